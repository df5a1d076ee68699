"""With an API token set, every operation of the wire refuses unsigned and wrongly signed requests;
keys come from `kiln keys` and their secrets are kept encrypted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.auth
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from wire_support import REGION, client, use_kiln

from conftest import RunningServer, start_server
from kiln.server.wire import logs, sagemaker, wire_services
from kiln.server.wire.dispatch import MAX_BODY_BYTES

TOKEN = "wire-operator-token"
# (service, signing name, operation): every operation the wire serves.
OPERATIONS = (
    [("sagemaker", "sagemaker", op) for op in sorted(sagemaker.OPERATIONS)]
    + [("logs", "logs", op) for op in sorted(logs.OPERATIONS)]
    + [("sts", "sts", "GetCallerIdentity"), ("sagemaker-runtime", "sagemaker", "InvokeEndpoint")]
    + [("iam", "iam", "SimulatePrincipalPolicy")]  # answered AccessDenied once signed: Kiln has no IAM
)
# (missing, unknown key, wrong signature) codes in each service's protocol, as AWS answers them.
REFUSALS = {
    "sagemaker": (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    ),
    "logs": (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    ),
    "sagemaker-runtime": (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
    ),
    "sts": ("MissingAuthenticationToken", "InvalidClientTokenId", "SignatureDoesNotMatch"),
    "iam": ("MissingAuthenticationToken", "InvalidClientTokenId", "SignatureDoesNotMatch"),
}
AUTH_CODES = {code for codes in REFUSALS.values() for code in codes}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("wire-auth"), token=TOKEN)
    yield running
    running.stop()


def kiln_cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiln.cli.main", *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture(scope="module")
def key(secured: RunningServer) -> dict[str, str]:
    made = kiln_cli(secured, "keys", "create", "--name", "alice", "--json")
    assert made.returncode == 0, made.stderr
    answer: dict[str, str] = json.loads(made.stdout)
    return answer


def raw_request(server: RunningServer, service: str, operation: str) -> AWSRequest:
    """The request boto3 would send for ``operation`` with empty parameters (refused or not, the
    signature is checked first)."""
    if service in ("sts", "iam"):
        version = "2011-06-15" if service == "sts" else "2010-05-08"
        return AWSRequest(
            "POST",
            f"{server.url}/",
            data=f"Action={operation}&Version={version}".encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    if service == "sagemaker-runtime":
        return AWSRequest(
            "POST",
            f"{server.url}/endpoints/absent/invocations",
            data=b"[1]",
            headers={"Content-Type": "application/json"},
        )
    prefix = {"sagemaker": "SageMaker", "logs": "Logs_20140328"}[service]
    return AWSRequest(
        "POST",
        f"{server.url}/",
        data=b"{}",
        headers={"X-Amz-Target": f"{prefix}.{operation}", "Content-Type": "application/x-amz-json-1.1"},
    )


def send(request: AWSRequest) -> tuple[int, str]:
    prepared = request.prepare()
    response = httpx.request(
        prepared.method, prepared.url, headers=dict(prepared.headers), content=prepared.body
    )
    code = response.headers.get("x-amzn-errortype", "")
    if response.headers.get("content-type", "").startswith("application/x-amz-json"):
        code = response.json().get("__type", "")
    elif "<Code>" in response.text:
        code = response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]
    return response.status_code, code


def signed(request: AWSRequest, signing_name: str, key_id: str, secret: str) -> AWSRequest:
    SigV4Auth(Credentials(key_id, secret), signing_name, REGION).add_auth(request)
    return request


@pytest.mark.parametrize(("service", "signing_name", "operation"), OPERATIONS)
def test_every_operation_refuses_unsigned_and_wrongly_signed_requests(
    secured: RunningServer, key: dict[str, str], service: str, signing_name: str, operation: str
) -> None:
    missing, unknown, mismatch = REFUSALS[service]
    status, code = send(raw_request(secured, service, operation))
    if service in ("sagemaker", "logs"):  # X-Amz-Target marks it as AWS's even unsigned
        assert (status, code) == (403, missing)
    else:  # nothing marks it as AWS's: Kiln's own guard refuses it (401, or 303 to the console's login)
        assert status in (401, 303)
    wrong_secret = signed(
        raw_request(secured, service, operation), signing_name, key["AccessKeyId"], "not-the-secret"
    )
    assert send(wrong_secret) == (403, mismatch)
    unknown_key = signed(raw_request(secured, service, operation), signing_name, "AKIANOSUCHKEY0000000", "x")
    assert send(unknown_key) == (403, unknown)
    tampered = signed(
        raw_request(secured, service, operation), signing_name, key["AccessKeyId"], key["SecretAccessKey"]
    )
    tampered.data = tampered.data + b" "  # the body no longer matches the signed payload hash
    assert send(tampered) == (403, mismatch)
    # The same request, signed with the key: past the check (answered, or refused for its content).
    status, code = send(
        signed(
            raw_request(secured, service, operation), signing_name, key["AccessKeyId"], key["SecretAccessKey"]
        )
    )
    assert code not in AUTH_CODES, (status, code)


def test_boto3_with_a_key_works_and_a_revoked_key_is_refused(
    secured: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = json.loads(kiln_cli(secured, "keys", "create", "--name", "ci bot", "--json").stdout)
    use_kiln(monkeypatch, secured.url, made["AccessKeyId"], made["SecretAccessKey"])
    assert client("sts").get_caller_identity()["Arn"] == "arn:aws:iam::000000000000:user/ci-bot"
    assert client("sagemaker").list_endpoints()["Endpoints"] == []
    revoked = kiln_cli(secured, "keys", "revoke", made["AccessKeyId"])
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(ClientError) as refused:
        client("sagemaker").list_endpoints()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
    listed = kiln_cli(secured, "keys", "list", "--json")
    statuses = {k["AccessKeyId"]: k["Status"] for k in json.loads(listed.stdout)["AccessKeys"]}
    assert statuses[made["AccessKeyId"]] == "Inactive"
    assert "SecretAccessKey" not in listed.stdout


def test_a_signature_older_than_fifteen_minutes_is_refused(
    secured: RunningServer, key: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    then = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: then)
    old = signed(
        raw_request(secured, "sagemaker", "ListEndpoints"),
        "sagemaker",
        key["AccessKeyId"],
        key["SecretAccessKey"],
    )
    assert send(old) == (403, "InvalidSignatureException")


def test_keys_need_the_operator_token_and_secrets_are_stored_encrypted(
    secured: RunningServer, key: dict[str, str]
) -> None:
    assert httpx.post(f"{secured.url}/api/v1/access-keys", json={"Name": "mallory"}).status_code == 401
    assert httpx.get(f"{secured.url}/api/v1/access-keys").status_code == 401
    key_file = secured.home / "access-keys.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    stored = _everything_stored(secured)
    assert key["AccessKeyId"].encode() in stored
    assert key["SecretAccessKey"].encode() not in stored


def _everything_stored(server: RunningServer) -> bytes:
    """Every row of every table of the server's database, as text; with SQLite also its files' bytes
    (a secret once written and overwritten may linger in the write-ahead log)."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(server.database_url)
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        rows = [
            repr(tuple(row)) for table in tables.sorted_tables for row in connection.execute(select(table))
        ]
    engine.dispose()
    files = b"".join(p.read_bytes() for p in Path(server.home).glob("kiln.db*"))
    return "\n".join(rows).encode() + files


def test_loopback_without_a_token_accepts_any_signature_but_not_none(server: RunningServer) -> None:
    any_key = signed(
        raw_request(server, "sagemaker", "ListEndpoints"), "sagemaker", "AKIAWHATEVER", "anything"
    )
    assert send(any_key) == (200, "")
    assert send(raw_request(server, "sagemaker", "ListEndpoints")) == (
        403,
        "MissingAuthenticationTokenException",
    )


def test_a_body_over_the_wire_s_limit_is_413_in_the_protocol_s_error_shape(server: RunningServer) -> None:
    request = raw_request(server, "sagemaker", "ListEndpoints")
    request.data = b" " * (MAX_BODY_BYTES + 1)  # JSON whitespace: only its size is wrong
    assert send(signed(request, "sagemaker", "AKIAWHATEVER", "anything")) == (413, "RequestEntityTooLarge")


def test_kiln_clients_and_the_console_are_not_taken_for_aws_requests(secured: RunningServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{secured.url}/api/v1/training-jobs", headers=headers).status_code == 200
    assert httpx.get(f"{secured.url}/api/v1/training-jobs").status_code == 401
    answer: Any = httpx.post(f"{secured.url}/endpoints/absent/invocations", headers=headers, content=b"[1]")
    assert answer.status_code == 404  # Kiln's own shape on the runtime path, not SageMaker's
    assert answer.json()["error"] == "NotFound"


def test_the_operations_enumerated_here_are_every_target_the_wire_serves() -> None:
    prefixes = {"sagemaker": "SageMaker.", "logs": "Logs_20140328."}
    enumerated = {prefixes[service] + op for service, _, op in OPERATIONS if service in prefixes}
    assert enumerated == {target for service in wire_services() for target in service.targets}
