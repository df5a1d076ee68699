"""The CLI's NAME=VALUE options: split at the first ``=``, refused with the option's name otherwise."""

from __future__ import annotations

import pytest

from kiln.cli.common import pair, pairs
from kiln.errors import ValidationError


def test_pairs_split_at_the_first_equals_sign_and_a_later_name_wins() -> None:
    assert pairs(["lr=0.1", "expr=a=b", "lr=0.2", "empty="], "--hp") == {
        "lr": "0.2",
        "expr": "a=b",
        "empty": "",
    }


@pytest.mark.parametrize("value", ["novalue", "=value"])
def test_a_value_without_a_name_is_refused_naming_the_option(value: str) -> None:
    with pytest.raises(ValidationError, match=f"--parameter {value!r} must look like NAME=VALUE"):
        pair(value, "--parameter")
