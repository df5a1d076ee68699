"""The test tree's own rule: one conftest.py, at its root.

Test modules import shared helpers with ``from conftest import ...``; a conftest.py in a test folder
takes that name for every module collected after it, and the whole suite fails to collect.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_folder_has_a_conftest_of_its_own() -> None:
    nested = sorted(str(p.relative_to(TESTS)) for p in TESTS.glob("*/**/conftest.py"))
    assert nested == [], f"move these fixtures into a helper module (tests/<folder>/<name>.py): {nested}"
