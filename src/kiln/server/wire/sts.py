"""STS (query protocol, XML answers): ``GetCallerIdentity``, with the account from ``KILN_AWS_ACCOUNT_ID``.

The SageMaker SDK asks it for the account id that names its default bucket
(``sagemaker-<region>-<account>``); the caller is the user named by the access key.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from kiln.server.wire._base import WireCall
from kiln.server.wire.protocols import Protocol, error_response, new_request_id, xml_response

__all__ = ["NAMESPACE", "handle"]

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
UNNAMED_USER = "kiln"  # a key Kiln does not know (accepted on a loopback server without auth)


async def handle(request: Request, call: WireCall) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
    form.update(parse_qs(request.url.query))
    action = (form.get("Action") or [""])[0]
    if action != "GetCallerIdentity":
        return error_response(
            Protocol.QUERY,
            "InvalidAction",
            f"Kiln's STS serves GetCallerIdentity only, not {action or 'a request without Action'!r}",
        )
    name = await run_in_threadpool(call.state.access_keys.name_of, call.access_key_id) or UNNAMED_USER
    name = re.sub(r"[^\w+=,.@-]", "-", name)  # IAM user names allow only these
    request_id = new_request_id()
    return xml_response(
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}"><GetCallerIdentityResult>'
        f"<Arn>arn:aws:iam::{call.account_id}:user/{escape(name)}</Arn>"
        f"<UserId>{escape(call.access_key_id)}</UserId><Account>{call.account_id}</Account>"
        f"</GetCallerIdentityResult><ResponseMetadata><RequestId>{request_id}</RequestId>"
        "</ResponseMetadata></GetCallerIdentityResponse>",
        request_id=request_id,
    )
