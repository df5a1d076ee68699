"""The one hyperparameter rule: JSON inside strings is decoded where it parses, else kept as typed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kiln.codecs.hyperparameters import (
    decode_hyperparameter,
    decode_hyperparameters,
    display_hyperparameter,
    encode_hyperparameter,
)


@pytest.mark.parametrize(
    ("wire", "value"),
    [("0.1", 0.1), ("3", 3), ('"adam"', "adam"), ("true", True), ("[1, 2]", [1, 2]), ("null", None)],
)
def test_json_values_decode_and_round_trip(wire: str, value: object) -> None:
    assert decode_hyperparameter(wire) == value
    assert decode_hyperparameter(encode_hyperparameter(value)) == value


def test_a_value_typed_by_hand_that_is_not_json_stays_a_string() -> None:
    assert decode_hyperparameter("adam") == "adam"
    assert decode_hyperparameters({"optimizer": "adam", "lr": "0.1"}) == {"optimizer": "adam", "lr": 0.1}


def test_display_shows_what_a_person_typed() -> None:
    assert display_hyperparameter('"adam"') == "adam"
    assert display_hyperparameter("adam") == "adam"
    assert display_hyperparameter("0.10") == "0.1"
    assert display_hyperparameter('{"a": 1}') == '{"a": 1}'
    assert display_hyperparameter(5) == "5"


def test_the_codec_does_not_import_numpy() -> None:
    # The CLI and the training runtime read hyperparameters; numpy's import time is not theirs to pay.
    code = "import sys, kiln.codecs.hyperparameters; assert 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
