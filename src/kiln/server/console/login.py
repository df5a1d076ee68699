"""Console sign-in and sign-out: the API token is asked for once and exchanged for a session cookie.

The cookie holds a signed session id, never the token (HttpOnly, SameSite=Strict, Secure over
HTTPS). Forms that change state carry the session's CSRF token (``csrf_field`` in templates), and the
console's script sends it as ``X-CSRF-Token``; ``AuthGuard`` checks the header, ``require_csrf`` the
form field.
"""

from __future__ import annotations

from importlib import resources
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from kiln.server.auth import CONSOLE_COOKIE, console_session
from kiln.server.console.templating import render
from kiln.server.credentials import SESSION_SECONDS, Credentials
from kiln.server.state import request_state

__all__ = ["ConsoleAccess", "require_csrf", "router"]

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only paths on this server: a login link must not bounce the browser to another site."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else "/"


def _login_css() -> Markup:
    """The sign-in page styles itself inline: static files, like every page, need a session."""
    return Markup((resources.files("kiln.server.console") / "static" / "console.css").read_text())


def _credentials(request: Request) -> Credentials:
    found = request_state(request).credentials
    return found


def require_console_access(request: Request) -> None:
    """A signed-in console (the guard has already checked; this keeps pages closed on their own)."""
    if not _credentials(request).enabled or console_session(request) is not None:
        return
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise HTTPException(303, "sign in first", headers={"Location": f"/login?next={quote(wanted)}"})


ConsoleAccess = Annotated[None, Depends(require_console_access)]


def require_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """A state-changing console form must carry its session's CSRF token."""
    session = console_session(request)
    if _credentials(request).enabled and (
        session is None or not _credentials(request).is_csrf_token(session, csrf_token)
    ):
        raise HTTPException(403, "this form lacks its CSRF token: reload the page and try again")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if not _credentials(request).enabled:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None, inline_css=_login_css())


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    credentials = _credentials(request)
    target = _safe_next(next)
    if not credentials.enabled:
        return RedirectResponse(target, status_code=303)
    if not credentials.is_operator_token(token.strip()):
        message = (
            "That token is not this server's API token. Use the value of KILN_API_TOKEN "
            "(or --token) that the server was started with."
        )
        return render(
            request, "login.html", status_code=401, next=target, error=message, inline_css=_login_css()
        )
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(
        CONSOLE_COOKIE,
        credentials.new_session(),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        path="/",
    )
    return answer


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    _credentials(request).sign_out(request.cookies.get(CONSOLE_COOKIE))
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(CONSOLE_COOKIE, path="/")
    return answer
