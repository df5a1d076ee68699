"""Every route of the server refuses a caller without credentials when auth is on.

The routes come from the app itself (FastAPI's routes, and the routes of every ASGI layer in front of
it), never from a hand-kept list: a route added later without protection fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import Route

from asgi_transport import SyncASGITransport
from kiln.artifacts import resolve_store
from kiln.config import Settings
from kiln.executors import LocalExecutor
from kiln.metadata import Database
from kiln.server.app import create_app
from kiln.server.credentials import Credentials

TOKEN = "route-test-token-0123456789"
OPEN = {("GET", "/api/v1/health"), ("HEAD", "/api/v1/health"), ("GET", "/login"), ("POST", "/login")}
OPEN |= {("HEAD", "/login")}


def _added_later() -> dict[str, bool]:
    return {"open": True}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    home = tmp_path_factory.mktemp("routes-home")
    database_url = f"sqlite:///{home / 'kiln.db'}"
    settings = Settings(
        home=home, database_url=database_url, artifact_url=(home / "artifacts").as_uri(), api_token=TOKEN
    )
    db = Database(database_url)
    db.migrate()
    built = create_app(settings, db, resolve_store(settings.artifact_url), LocalExecutor())
    # Routes added without a word about auth: the guard refuses by default, so they are covered too.
    built.add_api_route("/api/v1/added-later", _added_later, methods=["POST"], name="added_api")
    built.add_api_route("/added-later-page", _added_later, name="added_page")
    yield built
    db.dispose()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[httpx.Client]:
    transport = SyncASGITransport(app.state.asgi)
    with httpx.Client(transport=transport, base_url="http://kiln.test", follow_redirects=False) as c:
        yield c
    transport.close()


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-name", path)


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI ≥ 0.120 keeps included routers
        if included is not None:
            yield from _routes(included.routes, prefix + route.include_context.prefix)
            continue
        assert isinstance(route, Route), f"{route!r}: a mount or other route kind this test cannot enumerate"
        for method in route.methods or {"GET"}:
            yield method, _concrete(prefix + route.path)


Sample = tuple[str, str, dict[str, str]]  # method, path, headers that select the route (e.g. X-Amz-Target)


def every_route(app: FastAPI) -> list[Sample]:
    """Every route: FastAPI's, then those each ASGI layer in front of it lists with ``route_samples()``
    ((method, path) or (method, path, headers): the AWS wire layer's routes are chosen by headers)."""
    found: dict[tuple[str, str, tuple[tuple[str, str], ...]], Sample] = {}
    for method, path in _routes(app.routes):
        found[(method, path, ())] = (method, path, {})
    layer: Any = app.state.asgi
    while layer is not app:
        if layer is not app.state.guard:
            assert hasattr(layer, "route_samples"), (
                f"{layer!r} sits in front of the app without route_samples()"
            )
            for sample in layer.route_samples():
                method, path, *rest = sample
                headers = rest[0] if rest else {}
                found[(method, path, tuple(sorted(headers.items())))] = (method, path, dict(headers))
        layer = layer.app
    return [found[key] for key in sorted(found)]


def _refused(answer: httpx.Response) -> bool:
    if answer.status_code in (401, 403):
        return True
    return answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


def test_the_enumeration_sees_every_kind_of_route(app: FastAPI) -> None:
    routes = every_route(app)
    paths = {path for _, path, _ in routes}
    for expected in (
        "/api/v1/training-jobs",
        "/api/v1/artifacts",
        "/api/v1/artifacts/content",
        "/api/v1/training-jobs/some-name/logs",
        "/api/v1/internal/training-jobs/some-name/hosts/some-name/events",
        "/api/v1/openapi.json",
        "/api/v1/docs",
        "/static/some-name",
        "/training-jobs",
        "/endpoints/some-endpoint/invocations",
        "/api/v1/added-later",
    ):
        assert expected in paths
    assert len(routes) > 60


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-enough-length"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer " + Credentials(TOKEN).host_credential("some-name")},  # a host's, elsewhere
        {"Cookie": "kiln_session=forged.9999999999.mac"},
    ],
    ids=["none", "wrong", "basic", "host-credential", "forged-session"],
)
def test_every_route_refuses_without_valid_credentials(
    app: FastAPI, client: httpx.Client, headers: dict[str, str]
) -> None:
    host_credential = headers.get("Authorization", "").startswith("Bearer kiln-host.")
    unrefused = []
    for method, path, selecting in every_route(app):
        if (method, path) in OPEN and not selecting:
            continue
        if host_credential and path.startswith("/api/v1/internal/training-jobs/some-name/"):
            continue  # that credential's own job: checked in test_internal_routes_check_the_job_scope
        answer = client.request(method, path, headers={**selecting, **headers}, content=b"{}")
        if not _refused(answer):
            unrefused.append(f"{method} {path} -> {answer.status_code} {answer.text[:80]}")
    assert unrefused == []


def test_open_routes_tell_a_stranger_nothing(client: httpx.Client) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    login = client.get("/login")
    assert login.status_code == 200
    assert "/static/" not in login.text  # styled inline: static files need a session too


def test_internal_routes_check_the_job_scope(client: httpx.Client) -> None:
    route = "/api/v1/internal/training-jobs/{}/hosts/algo-1/status"
    own = "Bearer " + Credentials(TOKEN).host_credential("job-a")
    assert (
        client.post(route.format("job-b"), json={"status": "x"}, headers={"Authorization": own}).status_code
        == 401
    )
    assert (
        client.post(route.format("job-a"), json={"status": "x"}, headers={"Authorization": own}).status_code
        == 404
    )


def test_a_console_session_needs_its_csrf_token_to_change_anything(
    app: FastAPI, client: httpx.Client
) -> None:
    signed_in = client.post("/login", data={"token": TOKEN, "next": "/"})
    cookie = signed_in.cookies["kiln_session"]
    assert TOKEN not in cookie  # the cookie is a session, not the token
    credentials: Credentials = app.state.credentials
    session = credentials.session(cookie)
    assert session is not None
    headers = {"Cookie": f"kiln_session={cookie}"}

    assert client.get("/api/v1/training-jobs", headers=headers).status_code == 200
    assert client.post("/api/v1/training-jobs", headers=headers, json={}).status_code == 403
    with_csrf = {**headers, "X-CSRF-Token": credentials.csrf_token(session)}
    assert client.post("/api/v1/training-jobs", headers=with_csrf, json={}).status_code == 400  # past auth
    assert client.post("/logout", headers=headers).status_code == 403
    # Any console route, even one that never heard of CSRF, refuses a change without the token.
    assert client.post("/added-later-page", headers=headers, data={"x": "1"}).status_code == 403
    wrong = client.post("/logout", headers=headers, data={"csrf_token": "forged"})
    assert wrong.status_code == 403
    out = client.post("/logout", headers=headers, data={"csrf_token": credentials.csrf_token(session)})
    assert out.status_code == 303
    assert client.get("/api/v1/training-jobs", headers=headers).status_code == 401  # signed out


def test_the_operator_token_opens_the_api_but_not_the_hosts_routes(client: httpx.Client) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/v1/training-jobs", headers=bearer).status_code == 200
    assert client.get("/api/v1/openapi.json", headers=bearer).status_code == 200
    internal = "/api/v1/internal/training-jobs/job-a/hosts/algo-1/status"
    assert client.post(internal, json={"status": "x"}, headers=bearer).status_code == 401


def test_auth_is_off_only_without_a_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database_url = f"sqlite:///{home / 'kiln.db'}"
    home.mkdir()
    settings = Settings(home=home, database_url=database_url, artifact_url=(home / "artifacts").as_uri())
    db = Database(database_url)
    db.migrate()
    app = create_app(settings, db, resolve_store(settings.artifact_url), LocalExecutor())
    transport = SyncASGITransport(app.state.asgi)
    try:
        with httpx.Client(transport=transport, base_url="http://kiln.test") as open_client:
            assert open_client.get("/api/v1/training-jobs").status_code == 200
            assert open_client.get("/api/v1/health").json()["home"] == str(home)
    finally:
        transport.close()
        db.dispose()


def test_a_hosts_credential_expires_a_while_after_its_job_ended(
    app: FastAPI, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kiln import metadata
    from kiln.records import SecondaryStatus, utcnow
    from kiln.server import auth

    db = app.state.db
    metadata.insert_training_job(db, "ended-job", {}, ["algo-1"], utcnow(), "Starting")
    metadata.record_transition(
        db, "ended-job", SecondaryStatus.FAILED, "failed", utcnow(), failure_reason="x"
    )
    route = "/api/v1/internal/training-jobs/ended-job/hosts/algo-1/events"
    own = {"Authorization": "Bearer " + Credentials(TOKEN).host_credential("ended-job")}

    assert client.post(route, json={"batch": 1}, headers=own).status_code == 200  # its last reports

    later = utcnow() + auth.HOST_CREDENTIAL_GRACE + timedelta(seconds=1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    expired = client.post(route, json={"batch": 2}, headers=own)
    assert expired.status_code == 401
    assert "has ended" in expired.json()["message"]
