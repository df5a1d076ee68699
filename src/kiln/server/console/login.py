"""Console sign-in: when the server has an API token, pages need it once, kept in an HttpOnly cookie."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kiln.server.auth import CONSOLE_COOKIE, token_matches
from kiln.server.console.templating import render

__all__ = ["ConsoleAccess", "router"]

router = APIRouter()

COOKIE_MAX_AGE_SECONDS = 30 * 24 * 3600  # a month; signing out (or a new token) ends it sooner


def _safe_next(target: str) -> str:
    """Only paths on this server: a login link must not bounce the browser to another site."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def require_console_access(request: Request) -> None:
    expected: str | None = request.app.state.settings.api_token
    if not expected:
        return
    given = request.cookies.get(CONSOLE_COOKIE)
    if given is not None and token_matches(given, expected):
        return
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(wanted)}"})


ConsoleAccess = Annotated[None, Depends(require_console_access)]


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if not request.app.state.settings.api_token:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    expected: str | None = request.app.state.settings.api_token
    target = _safe_next(next)
    if not expected:
        return RedirectResponse(target, status_code=303)
    if not token_matches(token, expected):
        message = (
            "That token is not this server's API token. Use the value of KILN_API_TOKEN "
            "(or --token) that the server was started with."
        )
        return render(request, "login.html", status_code=401, next=target, error=message)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        CONSOLE_COOKIE,
        token.strip(),
        max_age=COOKIE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        path="/",
    )
    return answer


@router.post("/logout")
def logout() -> Response:
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(CONSOLE_COOKIE, path="/")
    return answer
