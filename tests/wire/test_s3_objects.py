"""S3 object operations through boto3: put, get (ranges, conditions), head, delete, copy, errors."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_support import S3Endpoint, error_of, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="objects")
    return "objects"


def test_put_then_get_returns_the_bytes_with_an_md5_etag_and_the_metadata(s3: Any, bucket: str) -> None:
    body = b"hello world"
    put = s3.put_object(
        Bucket=bucket, Key="greeting.txt", Body=body, ContentType="text/plain", Metadata={"owner": "alice"}
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumCRC32"] == "DUoRhQ=="  # botocore sent CRC32; S3 echoes it

    got = s3.get_object(Bucket=bucket, Key="greeting.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "alice"}
    assert got["ContentLength"] == len(body)
    assert got["ChecksumCRC32"] == "DUoRhQ=="


def test_head_object_reports_size_etag_and_last_modified(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="sized.bin", Body=b"x" * 1234)
    head = s3.head_object(Bucket=bucket, Key="sized.bin")
    assert head["ContentLength"] == 1234
    assert head["ETag"] == f'"{hashlib.md5(b"x" * 1234).hexdigest()}"'
    assert head["LastModified"].year >= 2024
    assert head["ContentType"] == "binary/octet-stream"


@pytest.mark.parametrize(
    ("header", "expected", "content_range"),
    [
        ("bytes=0-4", b"01234", "bytes 0-4/10"),
        ("bytes=7-", b"789", "bytes 7-9/10"),
        ("bytes=-3", b"789", "bytes 7-9/10"),
        ("bytes=5-100", b"56789", "bytes 5-9/10"),
    ],
)
def test_range_reads_answer_206_with_content_range(
    s3: Any, bucket: str, header: str, expected: bytes, content_range: str
) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="digits", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == content_range
    assert got["Body"].read() == expected


def test_a_range_past_the_end_is_invalid_range_416(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="short", Body=b"abc")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="short", Range="bytes=10-20")
    assert error_of(excinfo) == ("InvalidRange", 416)


def test_missing_keys_and_buckets_raise_s3s_codes(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="never-written")
    assert error_of(excinfo) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="no-such-bucket", Key="k")
    assert error_of(excinfo) == ("NoSuchBucket", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="never-written")
    assert error_of(excinfo) == ("404", 404)  # HEAD answers have no body: botocore uses the status
    with pytest.raises(ClientError) as excinfo:  # refused before its body is read (Expect: 100-continue)
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x" * 100_000)
    assert error_of(excinfo) == ("NoSuchBucket", 404)
    s3.put_object(Bucket=bucket, Key="after-refusal", Body=b"the connection is usable again")
    assert (
        s3.get_object(Bucket=bucket, Key="after-refusal")["Body"].read() == b"the connection is usable again"
    )


def test_delete_object_removes_it_and_deleting_again_succeeds(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="doomed/file.txt", Body=b"bye")
    assert s3.delete_object(Bucket=bucket, Key="doomed/file.txt")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="doomed/file.txt")
    s3.delete_object(Bucket=bucket, Key="doomed/file.txt")  # S3: deleting nothing is no error
    # The emptied folder does not keep the name from an object.
    s3.put_object(Bucket=bucket, Key="doomed", Body=b"now a file")
    assert s3.get_object(Bucket=bucket, Key="doomed")["Body"].read() == b"now a file"


def test_conditional_gets(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="cond", Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="cond", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfMatch='"0000"')
    assert error_of(excinfo) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="cond", IfNoneMatch=etag)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_response_overrides_set_the_answers_headers(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n")
    got = s3.get_object(
        Bucket=bucket,
        Key="report.csv",
        ResponseContentType="text/csv",
        ResponseContentDisposition="attachment",
    )
    assert (got["ContentType"], got["ContentDisposition"]) == ("text/csv", "attachment")


def test_copy_object_keeps_or_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src.txt", Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"}
    )
    copied = s3.copy_object(Bucket=bucket, Key="dst.txt", CopySource={"Bucket": bucket, "Key": "src.txt"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dst.txt")
    assert (got["Body"].read(), got["ContentType"], got["Metadata"]) == (b"copy me", "text/plain", {"a": "1"})

    s3.copy_object(
        Bucket=bucket,
        Key="dst.txt",
        CopySource=f"{bucket}/src.txt",
        MetadataDirective="REPLACE",
        ContentType="application/x-new",
        Metadata={"b": "2"},
    )
    head = s3.head_object(Bucket=bucket, Key="dst.txt")
    assert (head["ContentType"], head["Metadata"]) == ("application/x-new", {"b": "2"})


def test_copy_to_itself_without_changes_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="self", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="self", CopySource={"Bucket": bucket, "Key": "self"})
    assert error_of(excinfo) == ("InvalidRequest", 400)


def test_copy_from_a_missing_source_is_no_such_key(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "absent"})
    assert error_of(excinfo) == ("NoSuchKey", 404)


def test_keys_with_spaces_unicode_and_plus_signs_round_trip(s3: Any, bucket: str) -> None:
    keys = ["with space/a+b.txt", "données/été.csv", "q?uery#frag%20.txt"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert set(keys) <= listed


def test_keys_the_store_cannot_hold_are_refused_with_the_reason(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="a/../b", Body=b"x")
    assert error_of(excinfo) == ("InvalidArgument", 400)
    assert "'..'" in excinfo.value.response["Error"]["Message"]


def test_virtual_hosted_style_reaches_the_same_objects(s3_endpoint: S3Endpoint, s3: Any, bucket: str) -> None:
    virtual = s3_endpoint.client("virtual")
    virtual.put_object(Bucket=bucket, Key="virtual/one.txt", Body=b"via host")
    assert s3.get_object(Bucket=bucket, Key="virtual/one.txt")["Body"].read() == b"via host"
    listed = virtual.list_objects_v2(Bucket=bucket, Prefix="virtual/")
    assert [item["Key"] for item in listed["Contents"]] == ["virtual/one.txt"]
    assert virtual.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_an_object_cannot_also_be_a_folder(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="clash", Body=b"file")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="clash/inner", Body=b"x")
    assert error_of(excinfo) == ("InvalidArgument", 400)
    assert s3.get_object(Bucket=bucket, Key="clash")["Body"].read() == b"file"


def test_presigned_urls_read_and_write(s3_endpoint: S3Endpoint, bucket: str) -> None:
    import httpx

    s3 = s3_endpoint.client(signature_version="s3v4")  # SigV4 query signing: X-Amz-Credential
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned.txt"})
    assert httpx.put(put_url, content=b"via a presigned URL").status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned.txt"})
    answer = httpx.get(get_url)
    assert (answer.status_code, answer.content) == (200, b"via a presigned URL")


def test_readers_never_see_half_an_object_while_writers_race(s3: Any, bucket: str) -> None:
    import threading

    versions = {
        bytes([fill]) * (2 << 20): f'"{hashlib.md5(bytes([fill]) * (2 << 20)).hexdigest()}"'
        for fill in (65, 66)
    }
    s3.put_object(Bucket=bucket, Key="raced", Body=next(iter(versions)))
    stop = threading.Event()

    def write(body: bytes) -> None:
        while not stop.is_set():
            s3.put_object(Bucket=bucket, Key="raced", Body=body)

    writers = [threading.Thread(target=write, args=(body,)) for body in versions]
    for writer in writers:
        writer.start()
    try:
        for _ in range(8):
            got = s3.get_object(Bucket=bucket, Key="raced", ChecksumMode="ENABLED")
            body = got["Body"].read()  # botocore checks the CRC32 the answer carries
            assert body in versions  # all of one write, never a mix or a prefix
            assert got["ETag"] == versions[body]  # and the headers describe that write
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    head = s3.head_object(Bucket=bucket, Key="raced")
    body = s3.get_object(Bucket=bucket, Key="raced")["Body"].read()
    assert head["ETag"] == versions[body]  # once the writers stop, the record describes the content
