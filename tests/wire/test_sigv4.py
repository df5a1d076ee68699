"""Signatures made by botocore verify, and any change to what was signed makes them fail."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kiln.server.wire.sigv4 import MalformedSignature, read_credential, signature_matches

KEY = Credentials("AKIAEXAMPLEKEY000000", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def _check(
    request: AWSRequest, secret: str = KEY.secret_key, body: bytes | None = None, **changes: str
) -> bool:
    prepared = request.prepare()
    parts = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()]
    headers.append(("host", parts.netloc))
    lowered = dict(headers)
    credential = read_credential(lowered.get("authorization", ""), parts.query, lowered)
    assert credential is not None
    return signature_matches(
        credential,
        secret,
        method=changes.get("method", prepared.method),
        scheme=parts.scheme,
        raw_path=changes.get("path", parts.path),
        query=changes.get("query", parts.query),
        header_list=headers,
        body=prepared.body if body is None else body,
    )


def _json_request() -> AWSRequest:
    request = AWSRequest(
        "POST",
        "http://127.0.0.1:8080/",
        data=b'{"TrainingJobName": "x"}',
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(KEY, "sagemaker", "us-east-1").add_auth(request)
    return request


def test_a_botocore_signature_verifies_and_a_changed_request_does_not() -> None:
    request = _json_request()
    assert _check(request)
    assert not _check(request, secret="another-secret")
    assert not _check(request, body=b'{"TrainingJobName": "y"}')
    assert not _check(request, method="PUT")
    assert not _check(request, path="/other")


def test_paths_and_queries_are_taken_as_sent() -> None:
    request = AWSRequest(
        "POST", "http://127.0.0.1:8080/endpoints/my%20model/invocations?a=1&b=x%2Fy", data=b"[1]"
    )
    SigV4Auth(KEY, "sagemaker", "eu-west-1").add_auth(request)
    assert _check(request)
    assert not _check(request, query="a=2&b=x%2Fy")


def test_s3_signatures_use_the_payload_hash_header_and_presigned_urls_verify() -> None:
    put = AWSRequest("PUT", "http://127.0.0.1:8080/bucket/a%20key.txt", data=b"hello world")
    S3SigV4Auth(KEY, "s3", "us-east-1").add_auth(put)
    assert _check(put, body=b"")  # the hash travels in X-Amz-Content-SHA256; the body is not needed
    presigned = AWSRequest("GET", "http://127.0.0.1:8080/bucket/key.txt")
    S3SigV4QueryAuth(KEY, "s3", "us-east-1", expires=600).add_auth(presigned)
    assert _check(presigned)
    tampered = presigned.url.replace("X-Amz-Expires=600", "X-Amz-Expires=6000")
    assert not _check(presigned, query=urlsplit(tampered).query)


def test_unreadable_signatures_are_told_apart_from_missing_ones() -> None:
    assert read_credential("", "", {}) is None
    assert read_credential("Bearer token", "a=1", {}) is None
    with pytest.raises(MalformedSignature):
        read_credential(
            "AWS4-HMAC-SHA256 Credential=AKIA/20261204/us-east-1/sagemaker", "", {"x-amz-date": "x"}
        )
    with pytest.raises(MalformedSignature):
        read_credential(
            "AWS4-HMAC-SHA256 Credential=AKIA/2026/r/s/aws4_request, SignedHeaders=host, Signature=ab", "", {}
        )
