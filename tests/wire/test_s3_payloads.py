"""Request bodies as botocore frames them: aws-chunked with trailers, payload hashes, checksums.

botocore sends aws-chunked only over https, so these tests build the request with botocore's own
pieces (``AwsChunkedWrapper``, ``S3SigV4Auth``) and send it over plain http to the real server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha256Checksum
from s3_support import S3Endpoint, s3_endpoint_fixture, s3_fixture  # noqa: F401 (fixtures, by name)

BUCKET = "payloads"


@pytest.fixture(scope="module", autouse=True)
def bucket(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)


def signed(
    method: str, url: str, body: Any, headers: dict[str, str], context: dict[str, Any] | None = None
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    request.context.update(context or {})
    S3SigV4Auth(Credentials("x", "y"), "s3", "us-east-1").add_auth(request)
    return request


def send(request: AWSRequest, content: bytes, *, chunked: bool = False) -> httpx.Response:
    headers = dict(request.headers.items())
    if chunked:  # as urllib3 sends a body under "Transfer-Encoding: chunked": in HTTP chunks
        headers.pop("Transfer-Encoding")
        return httpx.request(
            request.method, request.url, headers=headers, content=iter([content]), timeout=30
        )
    return httpx.request(request.method, request.url, headers=headers, content=content, timeout=30)


def chunked_put(
    endpoint: S3Endpoint, key: str, data: bytes, checksum_cls: Any, name: str, **extra: str
) -> httpx.Response:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=checksum_cls, checksum_name=name, chunk_size=1000
    )
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Trailer": name,
        "X-Amz-Decoded-Content-Length": str(len(data)),
        "Transfer-Encoding": "chunked",
        **extra,
    }
    context = {"checksum": {"request_algorithm": {"in": "trailer", "algorithm": "crc32", "name": name}}}
    request = signed("PUT", f"{endpoint.url}/{BUCKET}/{key}", wrapper, headers, context)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    return send(request, wrapper.read(), chunked=True)


def test_aws_chunked_bodies_are_stored_decoded_with_the_trailer_checksum(
    s3_endpoint: S3Endpoint, s3: Any
) -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes: eleven chunks of 1,000 and a short one
    answer = chunked_put(s3_endpoint, "chunked.bin", data, Crc32Checksum, "x-amz-checksum-crc32")
    assert answer.status_code == 200, answer.text
    expected_crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    assert answer.headers["x-amz-checksum-crc32"] == expected_crc
    got = s3.get_object(Bucket=BUCKET, Key="chunked.bin", ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore also checked the CRC32 we returned
    assert got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert "ContentEncoding" not in got  # aws-chunked framed the upload; it is not the object's encoding


def test_aws_chunked_sha256_trailer_is_checked(s3_endpoint: S3Endpoint, s3: Any) -> None:
    answer = chunked_put(s3_endpoint, "sha.bin", b"abc" * 999, Sha256Checksum, "x-amz-checksum-sha256")
    assert answer.status_code == 200, answer.text
    assert s3.head_object(Bucket=BUCKET, Key="sha.bin")["ContentLength"] == 2997


def test_a_wrong_trailer_checksum_is_bad_digest_and_stores_nothing(s3_endpoint: S3Endpoint, s3: Any) -> None:
    class WrongCrc(Crc32Checksum):  # type: ignore[misc]
        def digest(self) -> bytes:
            return b"\0\0\0\0"

    s3.put_object(Bucket=BUCKET, Key="kept.bin", Body=b"original")
    answer = chunked_put(s3_endpoint, "kept.bin", b"replacement", WrongCrc, "x-amz-checksum-crc32")
    assert answer.status_code == 400
    assert "<Code>BadDigest</Code>" in answer.text
    assert s3.get_object(Bucket=BUCKET, Key="kept.bin")["Body"].read() == b"original"


def test_a_short_decoded_length_is_incomplete_body(s3_endpoint: S3Endpoint, s3: Any) -> None:
    wrapper = AwsChunkedWrapper(
        io.BytesIO(b"0123456789"), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32"
    )
    body = wrapper.read()
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": "11",
        "X-Amz-Trailer": "x-amz-checksum-crc32",
    }
    context = {
        "checksum": {
            "request_algorithm": {"in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}
        }
    }
    answer = send(signed("PUT", f"{s3_endpoint.url}/{BUCKET}/short.bin", body, headers, context), body)
    assert answer.status_code == 400
    assert "<Code>IncompleteBody</Code>" in answer.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="short.bin")


def test_a_body_that_does_not_match_its_signed_sha256_is_refused(s3_endpoint: S3Endpoint, s3: Any) -> None:
    request = signed("PUT", f"{s3_endpoint.url}/{BUCKET}/tampered.txt", b"what was signed", {})
    assert len(request.headers["X-Amz-Content-SHA256"]) == 64
    answer = send(request, b"what was sent!!")
    assert answer.status_code == 400
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in answer.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="tampered.txt")


@pytest.fixture(scope="module")
def once(s3_endpoint: S3Endpoint) -> Any:
    """A client that does not retry: botocore retries BadDigest, as it would against AWS."""
    return s3_endpoint.client(retries={"max_attempts": 1, "mode": "standard"})


def test_a_wrong_crc32_header_is_bad_digest(once: Any) -> None:
    s3 = once
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="crc.txt", Body=b"hello world", ChecksumCRC32="AAAAAA==")
    assert excinfo.value.response["Error"]["Code"] == "BadDigest"


def test_a_wrong_content_md5_is_bad_digest(once: Any) -> None:
    s3 = once
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=BUCKET, Key="md5.txt", Body=b"hello", ContentMD5=wrong)
    assert excinfo.value.response["Error"]["Code"] == "BadDigest"
    right = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    s3.put_object(Bucket=BUCKET, Key="md5.txt", Body=b"hello", ContentMD5=right)


def test_sha256_and_sha1_checksums_are_verified_and_returned(s3: Any) -> None:
    for algorithm in ("SHA256", "SHA1"):
        answer = s3.put_object(
            Bucket=BUCKET, Key=f"{algorithm}.txt", Body=b"digest me", ChecksumAlgorithm=algorithm
        )
        got = s3.get_object(Bucket=BUCKET, Key=f"{algorithm}.txt", ChecksumMode="ENABLED")
        assert got[f"Checksum{algorithm}"] == answer[f"Checksum{algorithm}"]
        assert got["Body"].read() == b"digest me"
