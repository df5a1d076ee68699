"""Choosing a response content type from an HTTP ``Accept`` header."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from kiln.codecs.content_types import JSON, SUPPORTED_RESPONSE_TYPES, canonical_content_type
from kiln.errors import UnsupportedMediaType

__all__ = ["negotiate_accept"]


def negotiate_accept(
    accept: str | None,
    supported: Sequence[str] = SUPPORTED_RESPONSE_TYPES,
    default: str = JSON,
) -> str:
    """The entry of ``supported`` to answer in, given the client's ``Accept`` header.

    A missing or empty header, or ``*/*``, gives ``default`` (SageMaker's
    ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``). Otherwise the listed types are tried from the highest
    q-value down, in the order written among equal q-values, and the first one supported wins;
    ``q=0`` means "not this one". ``text/*`` picks ``default`` when it matches, else the first
    supported type under ``text/``. Aliases match (``application/jsons`` finds
    ``application/jsonlines``). Raises ``UnsupportedMediaType`` when nothing listed is supported.
    """
    if accept is None or not accept.strip():
        return default
    by_canonical = {canonical_content_type(media_type): media_type for media_type in supported}
    for media_range in _media_ranges(accept):
        if media_range in ("*/*", "*"):
            return default
        if media_range.endswith("/*"):
            prefix = media_range[:-1]  # "text/"
            if canonical_content_type(default).startswith(prefix):
                return default
            for canonical, media_type in by_canonical.items():
                if canonical.startswith(prefix):
                    return media_type
        elif media_range in by_canonical:
            return by_canonical[media_range]
    raise UnsupportedMediaType(
        f"Cannot answer in any type the Accept header lists ({accept!r}); "
        f"ask for one of: {', '.join(supported)}, or */* for {default}."
    )


# Clients send the same few headers over and over, so parsing each distinct one once is worth it;
# the bound keeps odd clients from growing the cache.
@functools.lru_cache(maxsize=256)
def _media_ranges(accept: str) -> tuple[str, ...]:
    """The canonical media ranges in ``accept``, best first, leaving out those with ``q=0``."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media_range, *parameters = part.split(";")
        media_range = canonical_content_type(media_range)
        if not media_range:
            continue
        quality = _quality(parameters)
        if quality > 0:
            weighted.append((-quality, position, media_range))
    return tuple(media_range for _, _, media_range in sorted(weighted))


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return min(max(float(value.strip()), 0.0), 1.0)
            except ValueError:
                return 1.0  # a malformed weight is ignored rather than failing the whole request
    return 1.0
