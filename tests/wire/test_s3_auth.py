"""With an API token set, every S3 operation refuses unsigned and wrongly signed requests, and
answers those signed with a key from `kiln keys create`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import RunningServer, start_server

TOKEN = "s3-operator-token"
UPLOAD = "0" * 32
DELETE_XML = b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>k</Key></Object></Delete>'
COMPLETE_XML = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>"
COPY = {"x-amz-copy-source": "/guarded/k"}
# (operation, method, path and query, body, extra headers): every operation S3 serves.
OPERATIONS = [
    ("ListBuckets", "GET", "/", b"", {}),
    ("CreateBucket", "PUT", "/made-by-test", b"", {}),
    ("HeadBucket", "HEAD", "/guarded", b"", {}),
    ("DeleteBucket", "DELETE", "/guarded", b"", {}),
    ("GetBucketLocation", "GET", "/guarded?location", b"", {}),
    ("ListObjectsV2", "GET", "/guarded?list-type=2", b"", {}),
    ("ListObjects", "GET", "/guarded", b"", {}),
    ("ListMultipartUploads", "GET", "/guarded?uploads", b"", {}),
    ("DeleteObjects", "POST", "/guarded?delete", DELETE_XML, {}),
    ("PutObject", "PUT", "/guarded/k", b"new content", {}),
    ("GetObject", "GET", "/guarded/k", b"", {}),
    ("HeadObject", "HEAD", "/guarded/k", b"", {}),
    ("DeleteObject", "DELETE", "/guarded/k", b"", {}),
    ("CopyObject", "PUT", "/guarded/k2", b"", COPY),
    ("CreateMultipartUpload", "POST", "/guarded/k?uploads", b"", {}),
    ("UploadPart", "PUT", f"/guarded/k?partNumber=1&uploadId={UPLOAD}", b"part", {}),
    ("UploadPartCopy", "PUT", f"/guarded/k?partNumber=1&uploadId={UPLOAD}", b"", COPY),
    ("CompleteMultipartUpload", "POST", f"/guarded/k?uploadId={UPLOAD}", COMPLETE_XML, {}),
    ("AbortMultipartUpload", "DELETE", f"/guarded/k?uploadId={UPLOAD}", b"", {}),
    ("ListParts", "GET", f"/guarded/k?uploadId={UPLOAD}", b"", {}),
]
REFUSED = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied")


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("s3-auth"), token=TOKEN)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def key(secured: RunningServer) -> dict[str, str]:
    made = subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", "keys", "create", "--name", "s3-tests", "--json"],
        env=secured.env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert made.returncode == 0, made.stderr
    answer: dict[str, str] = json.loads(made.stdout)
    return answer


def request(
    server: RunningServer, method: str, path: str, body: bytes, headers: dict[str, str]
) -> AWSRequest:
    return AWSRequest(method, f"{server.url}{path}", data=body, headers=dict(headers))


def signed(raw: AWSRequest, key_id: str, secret: str) -> AWSRequest:
    S3SigV4Auth(Credentials(key_id, secret), "s3", "us-east-1").add_auth(raw)
    return raw


def send(raw: AWSRequest, body: bytes | None = None) -> tuple[int, str]:
    prepared = raw.prepare()
    headers = {k: v for k, v in prepared.headers.items() if body is None or k.lower() != "content-length"}
    answer = httpx.request(
        prepared.method,
        prepared.url,
        headers=headers,
        content=prepared.body if body is None else body,
    )
    code = answer.text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in answer.text else ""
    return answer.status_code, code


def test_the_guarded_object_exists(secured: RunningServer, key: dict[str, str]) -> None:
    for method, path, body in (("PUT", "/guarded", b""), ("PUT", "/guarded/k", b"original")):
        assert (
            send(
                signed(request(secured, method, path, body, {}), key["AccessKeyId"], key["SecretAccessKey"])
            )[0]
            == 200
        )


@pytest.mark.parametrize(
    ("operation", "method", "path", "body", "headers"), OPERATIONS, ids=[o[0] for o in OPERATIONS]
)
def test_every_s3_operation_refuses_unsigned_and_wrongly_signed_requests(
    secured: RunningServer,
    key: dict[str, str],
    operation: str,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    status, _ = send(request(secured, method, path, body, headers))
    # Unsigned, nothing marks it as S3's: Kiln's own API or console answers (GET / redirects).
    assert status >= 300, f"{operation} unsigned was answered {status}"
    status, code = send(signed(request(secured, method, path, body, headers), key["AccessKeyId"], "wrong"))
    assert (status, code) in ((403, "SignatureDoesNotMatch"), (403, "")), operation  # HEAD: no body
    status, code = send(signed(request(secured, method, path, body, headers), "AKIANOSUCHKEY0000000", "x"))
    assert (status, code) in ((403, "InvalidAccessKeyId"), (403, "")), operation
    if body:
        tampered = signed(
            request(secured, method, path, body, headers), key["AccessKeyId"], key["SecretAccessKey"]
        )
        assert send(tampered, body + b" ")[0] >= 400  # the body no longer matches its signed hash
    # Nothing refused above changed the store: the guarded object is still there, unchanged.
    check = signed(request(secured, "GET", "/guarded/k", b"", {}), key["AccessKeyId"], key["SecretAccessKey"])
    prepared = check.prepare()
    assert httpx.get(prepared.url, headers=dict(prepared.headers)).content == b"original"
    # Signed with the key: past the check (answered, or refused for what it asks).
    status, code = send(
        signed(request(secured, method, path, body, headers), key["AccessKeyId"], key["SecretAccessKey"])
    )
    assert code not in REFUSED, (operation, status, code)
    if status < 300 and method in ("PUT", "DELETE", "POST"):  # restore what the operation changed
        for restore_method, restore_path, restore_body in (
            ("PUT", "/guarded", b""),
            ("PUT", "/guarded/k", b"original"),
        ):
            send(
                signed(
                    request(secured, restore_method, restore_path, restore_body, {}),
                    key["AccessKeyId"],
                    key["SecretAccessKey"],
                )
            )
