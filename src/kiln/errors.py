"""Kiln's one exception tree.

Every error Kiln raises on purpose is a ``KilnError``. The tree splits errors the user can fix from
errors that are Kiln's own fault, and each boundary maps them exactly once: the server turns them into
an HTTP status and a JSON body, the CLI into one ``Error:`` line and an exit code, and the SDK rebuilds
the same class from the server's answer. Each class carries its wire codes; every table that turns a
code back into a class (``error_class_named``, ``error_for_status``) is read off this tree, so a new
class needs no other edit. The CLI's exit codes: 1 for a user error, 2 for a usage error (click's own),
3 for an internal error.

::

    KilnError
    ├── UserError                  the request was wrong; fix it and try again    (HTTP 4xx, exit 1)
    │   ├── ValidationError        a field has a bad value                        (400)
    │   ├── Unauthorized           missing or wrong API token                     (401)
    │   ├── NotFound               no such job, model, endpoint, artifact         (404)
    │   ├── Conflict               the name is taken / the state forbids it       (409)
    │   ├── PayloadTooLarge        a request body over the limit                  (413)
    │   ├── UnsupportedMediaType   a content type nobody can decode               (415)
    │   ├── ResourceLimitExceeded  an account limit would be exceeded             (429)
    │   │   └── InsufficientCapacity  no free capacity now, and the caller won't wait  (429)
    │   ├── ModelError             the user's inference code failed               (424)
    │   └── UnexpectedStatusException  a job or endpoint ended Failed/Stopped    (SDK only)
    └── InternalError              Kiln's own fault or an unreachable service     (HTTP 5xx, exit 3)
        └── ServerUnavailable      the Kiln server cannot be reached or started   (503)

Each class also names the code AWS answers with for its kind of failure (``aws_code``: user errors
``ValidationException``, NotFound ``ResourceNotFound``, Conflict ``ResourceInUse``,
ResourceLimitExceeded ``ResourceLimitExceeded``, ModelError ``ModelError``, internal errors
``InternalFailure``), which the AWS wire (``kiln.server.wire``) answers in each protocol's shape.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "Conflict",
    "InsufficientCapacity",
    "InternalError",
    "KilnError",
    "ModelError",
    "NotFound",
    "PayloadTooLarge",
    "ResourceLimitExceeded",
    "ServerUnavailable",
    "Unauthorized",
    "UnexpectedStatusException",
    "UnsupportedMediaType",
    "UserError",
    "ValidationError",
    "error_class_named",
    "error_for_status",
]


class KilnError(Exception):
    """The root of every error Kiln raises on purpose."""

    http_status: ClassVar[int] = 500
    # The error code AWS services answer with for this kind of failure (the AWS wire, server/wire/):
    # each wire protocol derives its mapping from the tree, so a new class needs no second table.
    aws_code: ClassVar[str] = "InternalFailure"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserError(KilnError):
    """The request cannot succeed as given; the message says what to change."""

    http_status = 400
    aws_code = "ValidationException"


class ValidationError(UserError):
    http_status = 400


class Unauthorized(UserError):
    http_status = 401
    aws_code = "AccessDeniedException"


class NotFound(UserError):
    http_status = 404
    aws_code = "ResourceNotFound"


class Conflict(UserError):
    http_status = 409
    aws_code = "ResourceInUse"


class PayloadTooLarge(UserError):
    http_status = 413


class UnsupportedMediaType(UserError):
    http_status = 415


class ModelError(UserError):
    http_status = 424
    aws_code = "ModelError"


class ResourceLimitExceeded(UserError):
    http_status = 429
    aws_code = "ResourceLimitExceeded"


class InsufficientCapacity(ResourceLimitExceeded):
    """Within the limits, but the CPUs or GPUs it needs are promised to others right now."""


class UnexpectedStatusException(UserError):
    """A job ended in a state the caller did not ask for (SageMaker's name, kept for compatibility)."""

    http_status = 400

    def __init__(self, message: str, allowed_statuses: tuple[str, ...] = (), actual_status: str = "") -> None:
        super().__init__(message)
        self.allowed_statuses = allowed_statuses
        self.actual_status = actual_status


class InternalError(KilnError):
    http_status = 500


class ServerUnavailable(InternalError):
    http_status = 503
    aws_code = "ServiceUnavailable"


def _all_subclasses(cls: type[KilnError]) -> list[type[KilnError]]:
    found: list[type[KilnError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def _declares_status(cls: type[KilnError]) -> bool:
    return "http_status" in vars(cls)


def error_for_status(status: int) -> type[KilnError]:
    """The Kiln error an HTTP ``status`` stands for, when an answer names none: the most general class
    below the two categories that answers with it (429 is ResourceLimitExceeded, not its subclass
    InsufficientCapacity; 400 is ValidationError), else the category (UserError for 4xx, InternalError).
    """
    best: type[KilnError] | None = None
    for cls in _all_subclasses(KilnError):
        if cls in (UserError, InternalError) or not _declares_status(cls) or cls.http_status != status:
            continue
        if best is None or len(cls.__mro__) < len(best.__mro__):
            best = cls  # fewer ancestors: more general; on a tie the first defined stays
    if best is not None:
        return best
    return UserError if 400 <= status < 500 else InternalError


def error_class_named(name: str) -> type[KilnError]:
    """The Kiln error class called ``name``; ``InternalError`` for a name this version does not know."""
    candidates: list[type[KilnError]] = [KilnError, *_all_subclasses(KilnError)]
    for cls in candidates:
        if cls.__name__ == name:
            return cls
    return InternalError
