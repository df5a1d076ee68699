"""Multipart uploads through boto3: parts out of order and concurrent, ETags, ListParts, abort, errors."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from s3_support import error_of, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)

PART = 5 << 20  # S3's minimum for every part but the last


@pytest.fixture(scope="module")
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="multipart")
    return "multipart"


def multipart_etag(parts: list[bytes]) -> str:
    joined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(joined).hexdigest()}-{len(parts)}"'


def test_parts_uploaded_concurrently_and_out_of_order_assemble_in_part_order(s3: Any, bucket: str) -> None:
    parts = [os.urandom(PART), os.urandom(PART), b"tail" * 1000]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="model.tar.gz", ContentType="application/gzip")
    upload_id = upload["UploadId"]

    def send(number: int) -> dict[str, Any]:
        answer = s3.upload_part(
            Bucket=bucket, Key="model.tar.gz", UploadId=upload_id, PartNumber=number, Body=parts[number - 1]
        )
        assert answer["ETag"] == f'"{hashlib.md5(parts[number - 1]).hexdigest()}"'
        return {"PartNumber": number, "ETag": answer["ETag"]}

    with ThreadPoolExecutor(3) as pool:
        sent = list(pool.map(send, [3, 1, 2]))
    listed = s3.list_parts(Bucket=bucket, Key="model.tar.gz", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [(1, PART), (2, PART), (3, 4000)]

    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="model.tar.gz",
        UploadId=upload_id,
        MultipartUpload={"Parts": sorted(sent, key=lambda p: p["PartNumber"])},
    )
    assert done["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="model.tar.gz")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(b"".join(parts)).digest()
    assert got["ETag"] == done["ETag"]
    assert got["ContentType"] == "application/gzip"
    with pytest.raises(ClientError) as excinfo:  # the upload is gone once completed
        s3.list_parts(Bucket=bucket, Key="model.tar.gz", UploadId=upload_id)
    assert error_of(excinfo) == ("NoSuchUpload", 404)


def test_a_part_sent_again_replaces_the_earlier_one(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="again")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="again", UploadId=upload_id, PartNumber=1, Body=b"first")
    etag = s3.upload_part(Bucket=bucket, Key="again", UploadId=upload_id, PartNumber=1, Body=b"second")[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="again",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="again")["Body"].read() == b"second"


def test_abort_discards_the_parts_and_the_upload(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=1, Body=b"x" * 100)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [upload_id]
    assert (
        s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=2, Body=b"late")
    assert error_of(excinfo) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="aborted")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_completing_with_a_wrong_etag_is_invalid_part(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="wrong")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="wrong", UploadId=upload_id, PartNumber=1, Body=b"data")
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="wrong",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]},
        )
    assert error_of(excinfo) == ("InvalidPart", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="wrong",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": '"00000000000000000000000000000000"'}]},
        )
    assert error_of(excinfo) == ("InvalidPart", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="wrong", UploadId=upload_id)


def test_parts_out_of_order_in_the_complete_request_are_invalid_part_order(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="order")["UploadId"]
    tags = [
        s3.upload_part(Bucket=bucket, Key="order", UploadId=upload_id, PartNumber=n, Body=b"x" * PART)["ETag"]
        for n in (1, 2)
    ]
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="order",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": 2, "ETag": tags[1]}, {"PartNumber": 1, "ETag": tags[0]}]
            },
        )
    assert error_of(excinfo) == ("InvalidPartOrder", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="order", UploadId=upload_id)


def test_small_parts_before_the_last_are_entity_too_small(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    tags = [
        s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=n, Body=b"tiny")["ETag"]
        for n in (1, 2)
    ]
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="small",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": tag} for n, tag in zip((1, 2), tags, strict=True)]
            },
        )
    assert error_of(excinfo) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)


def test_unknown_upload_ids_are_no_such_upload(s3: Any, bucket: str) -> None:
    for upload_id in ("0" * 32, "../../etc"):
        with pytest.raises(ClientError) as excinfo:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
        assert error_of(excinfo) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId="f" * 32)
    assert error_of(excinfo) == ("NoSuchUpload", 404)


def test_an_upload_belongs_to_its_key(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="theirs", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert error_of(excinfo) == ("NoSuchUpload", 404)
    s3.abort_multipart_upload(Bucket=bucket, Key="mine", UploadId=upload_id)


def test_upload_part_copy_and_checksummed_parts(s3: Any, bucket: str) -> None:
    source = os.urandom(PART + 10)
    s3.put_object(Bucket=bucket, Key="copy-source", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copied", ChecksumAlgorithm="CRC32")
    assert upload["ChecksumAlgorithm"] == "CRC32"
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="copied",
        UploadId=upload["UploadId"],
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "copy-source"},
        CopySourceRange=f"bytes=0-{PART - 1}",
    )["CopyPartResult"]
    second = s3.upload_part(
        Bucket=bucket,
        Key="copied",
        UploadId=upload["UploadId"],
        PartNumber=2,
        Body=b"end",
        ChecksumAlgorithm="CRC32",
    )
    assert "ChecksumCRC32" in second
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="copied",
        UploadId=upload["UploadId"],
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": first["ETag"]},
                {"PartNumber": 2, "ETag": second["ETag"], "ChecksumCRC32": second["ChecksumCRC32"]},
            ]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == source[:PART] + b"end"
