"""Every executor keeps the executor contract: the local one always (Ray joins when it exists)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiln.executors import Executor, LocalExecutor
from kiln.testing.executors import ExecutorConformance

EXECUTORS: dict[str, Callable[[], Executor]] = {"local": LocalExecutor}


@pytest.fixture(params=sorted(EXECUTORS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def executor(kind: str) -> Executor:
    return EXECUTORS[kind]()


@pytest.fixture
def reattach(kind: str) -> Callable[[], Executor]:
    return EXECUTORS[kind]


class TestExecutor(ExecutorConformance):
    pass
