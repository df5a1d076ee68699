"""AWS Signature Version 4: reading the credential of a request, and checking its signature.

The signature is recomputed by botocore's own signer (``SigV4Auth`` and its S3 and presigned-URL
variants) over an ``AWSRequest`` rebuilt from what arrived: the method, the path and query exactly as
sent, only the headers the client says it signed, and the payload hash (``X-Amz-Content-SHA256`` when
the client sent one, as S3 clients do; otherwise the hash of the body). No signing code is written
here: a request verifies exactly when botocore, given the same secret, signs it the same way.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

from botocore.auth import (
    S3SigV4Auth,
    S3SigV4QueryAuth,
    SigV4Auth,
    SigV4QueryAuth,
)
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["ALGORITHM", "Credential", "MalformedSignature", "read_credential", "signature_matches"]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_CLOCK_SKEW = timedelta(minutes=15)  # AWS refuses requests signed further from its own clock
MAX_PRESIGNED_EXPIRY_SECONDS = 7 * 24 * 3600  # AWS's ceiling for a presigned URL


class MalformedSignature(ValueError):
    """The request says it is signed, but the signature's parts cannot be read."""


@dataclass(frozen=True)
class Credential:
    """What a signed request claims: whose key, when, where, for which service, over which headers."""

    access_key_id: str
    date: str  # yyyymmdd of the credential scope
    region: str
    service: str  # the signing name: sagemaker, s3, logs, sts, …
    timestamp: str  # X-Amz-Date, e.g. 20261204T153000Z
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool = False
    expires_seconds: int = 0  # presigned URLs only

    def signed_at(self) -> datetime:
        stamp = self.timestamp  # yyyymmddThhmmssZ, read by hand: strptime costs a tenth of the check
        try:
            if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
                raise ValueError(stamp)
            return datetime(
                int(stamp[0:4]),
                int(stamp[4:6]),
                int(stamp[6:8]),
                int(stamp[9:11]),
                int(stamp[11:13]),
                int(stamp[13:15]),
                tzinfo=timezone.utc,
            )
        except ValueError:
            raise MalformedSignature(
                f"X-Amz-Date {self.timestamp!r} is not a yyyymmddThhmmssZ time"
            ) from None

    def expired(self, now: datetime) -> bool:
        signed = self.signed_at()
        if self.presigned:
            return now > signed + timedelta(seconds=self.expires_seconds) or signed - now > MAX_CLOCK_SKEW
        return abs(now - signed) > MAX_CLOCK_SKEW


def _scope(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts[:4]):
        raise MalformedSignature(
            f"credential {value!r} must read <access key id>/<yyyymmdd>/<region>/<service>/aws4_request"
        )
    return parts[0], parts[1], parts[2], parts[3]


def _from_header(authorization: str, headers: dict[str, str]) -> Credential:
    fields: dict[str, str] = {}
    for part in authorization[len(ALGORITHM) :].split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not fields.get(k)]
    if missing:
        raise MalformedSignature(f"the Authorization header lacks {', '.join(missing)}")
    key, date, region, service = _scope(fields["Credential"])
    timestamp = headers.get("x-amz-date", "")
    if not timestamp:
        raise MalformedSignature("a signed request needs an X-Amz-Date header")
    return Credential(
        key,
        date,
        region,
        service,
        timestamp,
        tuple(fields["SignedHeaders"].split(";")),
        fields["Signature"],
    )


def _query_pairs(query: str) -> list[tuple[str, str]]:
    return [(k, v) for k, _, v in (p.partition("=") for p in query.split("&") if p)]


def _from_query(query: str) -> Credential:
    params = {k: unquote(v) for k, v in _query_pairs(query)}
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise MalformedSignature(f"X-Amz-Algorithm must be {ALGORITHM}")
    missing = [
        k
        for k in ("X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires")
        if not params.get(k)
    ]
    if missing:
        raise MalformedSignature(f"the presigned URL lacks {', '.join(missing)}")
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise MalformedSignature(f"X-Amz-Expires {params['X-Amz-Expires']!r} is not a number") from None
    if not 1 <= expires <= MAX_PRESIGNED_EXPIRY_SECONDS:
        raise MalformedSignature(f"X-Amz-Expires must be 1 to {MAX_PRESIGNED_EXPIRY_SECONDS} seconds")
    key, date, region, service = _scope(params["X-Amz-Credential"])
    return Credential(
        key,
        date,
        region,
        service,
        params["X-Amz-Date"],
        tuple(params["X-Amz-SignedHeaders"].split(";")),
        params["X-Amz-Signature"],
        presigned=True,
        expires_seconds=expires,
    )


def read_credential(authorization: str, query: str, headers: dict[str, str]) -> Credential | None:
    """The credential a request carries (Authorization header or presigned query), None if unsigned.

    ``headers``: lower-case names, the last value of each. Raises MalformedSignature.
    """
    if authorization.startswith(ALGORITHM):
        return _from_header(authorization, headers)
    if "X-Amz-Credential=" in query:
        return _from_query(query)
    return None


def signature_matches(
    credential: Credential,
    secret: str,
    *,
    method: str,
    scheme: str,
    raw_path: str,
    query: str,
    header_list: list[tuple[str, str]],
    body: bytes | None,
) -> bool:
    """Whether botocore, signing this request with ``secret``, computes the signature it carries.

    ``body`` may be None when the payload hash travels in X-Amz-Content-SHA256 (S3, presigned URLs).
    """
    signed = set(credential.signed_headers)
    request = AWSRequest(method=method, data=body or b"")
    for name, value in header_list:
        if name in signed:
            request.headers[name] = value  # HTTPHeaders appends: repeated headers keep every value
    if credential.presigned:
        query = "&".join(f"{k}={v}" for k, v in _query_pairs(query) if k != "X-Amz-Signature")
    request.url = f"{scheme}://{request.headers.get('host', 'localhost')}{raw_path}" + (
        f"?{query}" if query else ""
    )
    request.context["timestamp"] = credential.timestamp
    keys = Credentials(credential.access_key_id, secret)
    s3 = credential.service == "s3"
    signer: SigV4Auth
    if credential.presigned:
        signer = (S3SigV4QueryAuth if s3 else SigV4QueryAuth)(keys, credential.service, credential.region)
    else:
        signer = (S3SigV4Auth if s3 else SigV4Auth)(keys, credential.service, credential.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return hmac.compare_digest(expected, credential.signature)
