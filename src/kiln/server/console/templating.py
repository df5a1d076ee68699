"""One Jinja environment for the console's templates, and the page responses built with it."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

import kiln
from kiln.server.auth import console_session
from kiln.server.console import formatting
from kiln.server.console.charts import line_chart
from kiln.server.state import request_state

__all__ = ["message_page", "render"]

_env = Environment(
    loader=PackageLoader("kiln.server.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["duration"] = formatting.duration
_env.filters["money"] = formatting.money
_env.filters["when"] = formatting.short_time
_env.filters["hp"] = formatting.decoded_hyperparameter
_env.globals["line_chart"] = line_chart
_env.globals["version"] = kiln.__version__


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = console_session(request)
    csrf = request_state(request).credentials.csrf_token(session) if session is not None else ""
    page = _env.get_template(template).render(
        request=request,
        signed_in=session is not None,
        csrf_token=csrf,
        # Every state-changing form includes {{ csrf_field }}; AuthGuard / require_csrf check it.
        csrf_field=Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf),
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


def message_page(request: Request, title: str, message: str, status_code: int) -> HTMLResponse:
    """A console page for a refusal (e.g. a job that does not exist), instead of the API's JSON."""
    return render(request, "message.html", status_code=status_code, title=title, message=message)
