"""With an API token, console pages need it once, exchanged for a session cookie (HttpOnly,
SameSite=Strict) that is not the token; changes carry a CSRF token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from console_browser import browser  # noqa: F401  (the fixture)
from playwright.sync_api import expect

from conftest import RunningServer, start_server

TOKEN = "console-s3cret"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("kiln-console-token"), token=TOKEN)
    yield running
    running.stop()


@pytest.mark.parametrize(
    "path", ["/", "/training-jobs", "/training-jobs/new", "/endpoints", "/usage", "/tuning-jobs"]
)
def test_pages_redirect_to_login_without_the_cookie(token_server: RunningServer, path: str) -> None:
    answer = httpx.get(token_server.url + path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")
    bearer = httpx.get(token_server.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert bearer.status_code == 303, "pages take the cookie the login page sets, not a header"


def test_login_once_then_pages_and_api_work(token_server: RunningServer, browser) -> None:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{token_server.url}/training-jobs")
    assert "/login" in page.url
    assert page.request.get(f"{token_server.url}/api/v1/training-jobs").status == 401

    page.fill("#token", "wrong")
    page.click("#sign-in")
    expect(page.locator("#error-token")).to_contain_text("not this server's API token")

    page.fill("#token", TOKEN)
    page.click("#sign-in")
    page.wait_for_url(f"{token_server.url}/training-jobs")
    expect(page.locator("h1")).to_have_text("Training jobs")
    (cookie,) = [c for c in context.cookies() if c["name"] == "kiln_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert page.request.get(f"{token_server.url}/api/v1/training-jobs").status == 200
    # The runtime path takes the cookie too (the endpoint page's predict form), with the page's CSRF
    # token as the console's script sends it: 404, not 401. Without that token: 403.
    invocations = f"{token_server.url}/endpoints/none/invocations"
    assert page.request.post(invocations, data="[1]").status == 403
    assert page.request.post(f"{token_server.url}/api/v1/training-jobs/x/stop").status == 403
    csrf = page.get_attribute('meta[name="kiln-csrf"]', "content")
    assert csrf
    answer = page.request.post(invocations, data="[1]", headers={"X-CSRF-Token": csrf})
    assert answer.status == 404
    assert page.request.post(f"{token_server.url}/logout").status == 403  # the form's field is missing

    page.click("text=Sign out")
    page.wait_for_url(f"{token_server.url}/login")
    page.goto(f"{token_server.url}/usage")
    assert "/login" in page.url
    context.close()


def test_login_refuses_offsite_next(token_server: RunningServer) -> None:
    answer = httpx.post(
        token_server.url + "/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert "kiln_session" in answer.cookies
