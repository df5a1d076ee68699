"""API tokens: a public address needs one, and with one set every API call must carry it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import kiln
from kiln.errors import Unauthorized

if TYPE_CHECKING:
    from conftest import RunningServer

TOKEN = "s3cret"
SERVER_EXIT_TIMEOUT = 30


@pytest.fixture(scope="session")
def shared(pytestconfig: pytest.Config) -> Any:
    """tests/conftest.py as pytest loaded it, for its helpers.

    ``from conftest import …`` would get whichever conftest.py pytest imported last: every conftest
    outside a package is the module ``conftest`` (tests/runtime/serving has its own).
    """
    wanted = Path(__file__).resolve().parents[1] / "conftest.py"
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) and Path(plugin.__file__).resolve() == wanted:
            return plugin
    raise LookupError(f"pytest has not loaded {wanted}")


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory, shared: Any) -> Iterator[RunningServer]:
    running = shared.start_server(
        tmp_path_factory.mktemp("kiln-token-home"), token=TOKEN, extra_env={"KILN_HOST": "127.0.0.1"}
    )
    yield running
    running.stop()


@pytest.fixture
def no_token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KILN_API_TOKEN", raising=False)
    monkeypatch.delenv("KILN_URL", raising=False)


def _bearer(token: str | bytes) -> dict[str, str | bytes]:
    return {"Authorization": token if isinstance(token, bytes) else f"Bearer {token}"}


# -- a public address needs a token ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "token"),
    [("0.0.0.0", None), ("::", None), ("192.0.2.10", ""), ("192.0.2.10", "   ")],  # blank: no token
)
def test_listening_on_a_public_address_without_a_token_is_refused(
    tmp_path: Path, host: str, token: str | None
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_API_TOKEN", "KILN_URL")}
    env.update({"KILN_HOME": str(home), "KILN_HOST": host})
    if token is not None:
        env["KILN_API_TOKEN"] = token

    result = subprocess.run(
        [sys.executable, "-m", "kiln.server"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_EXIT_TIMEOUT,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: refusing to listen on {host}")
    assert "no API token is set" in lines[0]
    assert "KILN_API_TOKEN" in lines[0]
    assert result.stdout == ""
    assert not home.exists()  # nothing written: no database, no server.json


@pytest.mark.parametrize("token", ["x", "fifteen-chars-x"])
def test_a_short_token_is_refused_for_a_public_address(tmp_path: Path, token: str) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("KILN_API_TOKEN", "KILN_URL")}
    env.update({"KILN_HOME": str(home), "KILN_HOST": "0.0.0.0", "KILN_API_TOKEN": token})

    result = subprocess.run(
        [sys.executable, "-m", "kiln.server"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVER_EXIT_TIMEOUT,
    )

    assert result.returncode == 1
    assert f"with an API token of {len(token)} characters" in result.stderr
    assert "at least 16" in result.stderr
    assert not home.exists()


# -- with a token, every API call carries it ------------------------------------------------------------


def test_health_answers_only_ok_without_a_token(token_server: RunningServer) -> None:
    anonymous = httpx.get(f"{token_server.url}/api/v1/health", timeout=10)
    known = httpx.get(f"{token_server.url}/api/v1/health", headers=_bearer(TOKEN), timeout=10)

    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ok"}  # no pid, no home folder for a stranger
    assert known.json()["home"] == str(token_server.home)
    assert known.json()["pid"] == token_server.process.pid


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs", "/static/console.css"])
def test_the_api_document_docs_and_static_files_need_the_token(
    token_server: RunningServer, path: str
) -> None:
    refused = httpx.get(f"{token_server.url}{path}", timeout=10)
    assert refused.status_code in (401, 303), refused.text
    if path.startswith("/api/"):
        assert refused.status_code == 401
        assert httpx.get(f"{token_server.url}{path}", headers=_bearer(TOKEN), timeout=10).status_code == 200


def test_invocations_use_the_same_parser_as_the_api(token_server: RunningServer) -> None:
    url = f"{token_server.url}/endpoints/none/invocations"
    for headers in ({"Authorization": f"Basic {TOKEN}"}, _bearer(b"Bearer s3cr\xe9t"), {}, _bearer("wrong")):
        answer = httpx.post(url, content=b"[1]", headers=headers, timeout=10)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.json()["error"] == "Unauthorized"
    accepted = httpx.post(url, content=b"[1]", headers=_bearer(TOKEN), timeout=10)
    assert accepted.status_code == 404  # past the guard: the endpoint does not exist


def test_internal_routes_refuse_the_operator_token_and_other_jobs_credentials(
    token_server: RunningServer,
) -> None:
    from kiln.server.credentials import Credentials

    url = f"{token_server.url}/api/v1/internal/training-jobs/some-job/hosts/algo-1/status"
    other_job = Credentials(TOKEN).host_credential("another-job")
    for headers in ({}, _bearer(TOKEN), _bearer(other_job)):
        answer = httpx.post(url, json={"status": "Training"}, headers=headers, timeout=10)
        assert answer.status_code == 401, (headers, answer.text)
    # The job's own credential passes the check (and then meets a job that does not exist).
    own = httpx.post(
        url,
        json={"status": "Training"},
        headers=_bearer(Credentials(TOKEN).host_credential("some-job")),
        timeout=10,
    )
    assert own.status_code == 404, own.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _bearer("wrong"),
        {"Authorization": "Bearer"},
        _bearer(TOKEN + "x"),
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        _bearer(b"Bearer s3cr\xe9t"),  # a byte no token can hold still answers 401
    ],
    ids=["missing", "wrong", "empty", "longer", "basic-scheme", "no-scheme", "non-ascii"],
)
def test_an_api_call_without_the_right_token_is_401_with_a_clear_message(
    token_server: RunningServer, headers: dict[str, str | bytes]
) -> None:
    for path in ("/api/v1/training-jobs", "/api/v1/artifacts/default-bucket"):
        answer = httpx.get(f"{token_server.url}{path}", headers=headers, timeout=10)

        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "Unauthorized"
        assert "Authorization: Bearer <token>" in answer.json()["message"]
        assert "KILN_API_TOKEN" in answer.json()["message"]


def test_the_right_token_is_accepted_with_any_case_of_the_scheme(token_server: RunningServer) -> None:
    for header in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER  {TOKEN}"):
        answer = httpx.get(
            f"{token_server.url}/api/v1/training-jobs", headers={"Authorization": header}, timeout=10
        )
        assert answer.status_code == 200, (header, answer.text)
        assert answer.json() == {"TrainingJobSummaries": []}


def test_a_refused_call_changes_nothing(token_server: RunningServer) -> None:
    target = token_server.home / "artifacts" / "kiln" / "refused" / "x.txt"
    uri = target.as_uri()

    upload = httpx.put(
        f"{token_server.url}/api/v1/artifacts", params={"uri": uri}, content=b"data", timeout=10
    )
    create = httpx.post(
        f"{token_server.url}/api/v1/training-jobs",
        json={"TrainingJobName": "refused-job", "HyperParameters": {"sagemaker_program": '"t.py"'}},
        headers=_bearer("wrong"),
        timeout=10,
    )

    assert (upload.status_code, create.status_code) == (401, 401)
    assert not target.exists()
    jobs = httpx.get(f"{token_server.url}/api/v1/training-jobs", headers=_bearer(TOKEN), timeout=10).json()
    assert jobs == {"TrainingJobSummaries": []}


def test_the_sdk_raises_unauthorized_without_the_token_and_works_with_it(
    token_server: RunningServer, no_token_in_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Unauthorized, match=r"requires an API token.*Authorization: Bearer"):
        kiln.Session(token_server.url).default_bucket()
    with pytest.raises(Unauthorized, match="requires an API token"):
        kiln.Session(token_server.url, token="wrong").list_artifacts(token_server.home.as_uri())

    assert kiln.Session(token_server.url, token=TOKEN).default_bucket() == token_server.default_bucket
    monkeypatch.setenv("KILN_API_TOKEN", TOKEN)  # the SDK's default source of the token
    assert kiln.Session(token_server.url).default_bucket() == token_server.default_bucket


def test_the_cli_sends_the_token_from_the_environment(token_server: RunningServer) -> None:
    command = [sys.executable, "-m", "kiln", "jobs", "list", "--json"]

    accepted = subprocess.run(command, env=token_server.env(), capture_output=True, text=True, timeout=60)
    env = token_server.env()
    env.pop("KILN_API_TOKEN")
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert (accepted.returncode, accepted.stdout.strip()) == (0, "[]"), accepted.stderr
    assert refused.returncode == 1
    assert refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: this Kiln server requires an API token")
