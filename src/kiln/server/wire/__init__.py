"""Kiln's AWS wire: boto3 and the SageMaker Python SDK talk to Kiln as if it were AWS.

botocore sends every service to ``AWS_ENDPOINT_URL``, so all of them arrive on Kiln's one port.
``WireDispatcher`` sits in front of the runtime router and FastAPI; it recognises an AWS request by
its SigV4 signature (``Authorization: AWS4-HMAC-SHA256 …`` or a presigned ``X-Amz-Credential``) or
its ``X-Amz-Target``, picks the service by the signing name of the credential scope, checks the
signature with botocore's signer when auth is on, and calls that service's handler.

Services (``services.wire_services()``, the one table)::

    sagemaker-runtime  sagemaker  rest-json  InvokeEndpoint → the runtime router, authenticated
    sagemaker          sagemaker  json       SageMaker.<Op> → sagemaker.OPERATIONS (a table)
    logs               logs       json       Logs_20140328.<Op> → logs.OPERATIONS
    sts                sts        query      GetCallerIdentity
    s3                 s3         rest-xml   kiln.server.wire.s3.handle_s3, when present

A handler is::

    async def handle(request: starlette.requests.Request, call: WireCall) -> starlette.responses.Response

and S3's is ``async def handle_s3(request: Request, store: kiln.artifacts.ArtifactStore) -> Response``
(the table adapts it). Handlers raise ``KilnError``; the dispatcher answers with the class's
``aws_code`` in the service's protocol (``protocols.py``). S3's body is not read by the dispatcher:
its handler streams it, and the signature's payload hash comes from ``X-Amz-Content-SHA256``.

Auth: with an API token set (any server reachable from other machines), every AWS request must be
signed by an active key from ``kiln keys create``; unsigned, unknown-key and wrongly signed requests
are refused in the protocol's own error shape. On a loopback server without a token, any well-formed
signature is accepted, whatever the key (local development).
"""

from kiln.server.wire._base import Handler, WireCall, WireService
from kiln.server.wire.dispatch import WireDispatcher, is_aws_request
from kiln.server.wire.services import wire_services

__all__ = ["Handler", "WireCall", "WireDispatcher", "WireService", "is_aws_request", "wire_services"]
