"""The exception tree is the one table: names, HTTP statuses and exit codes are all read off it."""

from __future__ import annotations

import pytest

from kiln import errors
from kiln.errors import (
    InsufficientCapacity,
    InternalError,
    KilnError,
    ResourceLimitExceeded,
    UserError,
    ValidationError,
    error_class_named,
    error_for_status,
)

CLASSES = [getattr(errors, name) for name in errors.__all__ if isinstance(getattr(errors, name), type)]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_class_is_found_by_its_name_and_its_status_maps_back_into_its_family(
    cls: type[KilnError],
) -> None:
    assert error_class_named(cls.__name__) is cls
    by_status = error_for_status(cls.http_status)
    assert by_status.http_status == cls.http_status
    assert issubclass(by_status, UserError) == issubclass(cls, UserError)


def test_a_status_stands_for_the_most_general_class_that_answers_with_it() -> None:
    assert error_for_status(400) is ValidationError
    assert error_for_status(429) is ResourceLimitExceeded
    assert InsufficientCapacity.http_status == 429


def test_a_status_no_class_answers_with_falls_back_to_its_category() -> None:
    assert error_for_status(422) is UserError
    assert error_for_status(502) is InternalError
    assert error_class_named("NoSuchErrorInThisVersion") is InternalError
