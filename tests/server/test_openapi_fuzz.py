"""schemathesis against the server's own OpenAPI document: every operation, a bounded number of
generated requests each, on a real server on loopback with a token. No answer may be a 5xx, and
every 4xx is in Kiln's error shape ({"error": <a Kiln user error class>, "message": ...}).

The operations are taken from the document the server serves, so a new route is fuzzed without
anyone listing it. (schemathesis' pytest plugin does not run under pytest 9, so its strategies are
driven by hypothesis directly.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from conftest import RunningServer, start_server
from kiln.errors import UserError, error_class_named

TOKEN = "fuzzing-token-0123456789abcdef"
EXAMPLES_PER_OPERATION = 20
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("fuzzed-home"), token=TOKEN)
    yield running
    running.stop()


def _problem(case: Any, response: Any) -> str | None:
    """What is wrong with ``response`` to ``case``, or None."""
    where = f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:400]}"
    if response.status_code >= 500:
        return where
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            return f"not JSON: {where}"
        if not isinstance(body, dict) or not body.get("message"):
            return f"not Kiln's error shape: {where}"
        if not issubclass(error_class_named(str(body.get("error"))), UserError):
            return f"a 4xx that is not a Kiln user error: {where}"
    return None


def test_no_operation_answers_5xx_and_every_4xx_is_kilns_error_shape(fuzzed_server: RunningServer) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_server.url}/api/v1/openapi.json", headers=HEADERS)
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        _fuzz(operation, fuzzed_server.url, problems)

    assert operations >= 20  # the document lists the API, not a fraction of it
    assert problems == [], "\n".join(problems)


def _fuzz(operation: Any, base_url: str, problems: list[str]) -> None:
    """Up to ``EXAMPLES_PER_OPERATION`` generated calls of ``operation``; the first 3 problems kept."""
    found: list[str] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: Any) -> None:
        response = case.call(base_url=base_url, headers=HEADERS, timeout=30)
        problem = _problem(case, response)
        if problem and len(found) < 3:
            found.append(problem)

    call()
    problems.extend(found)
