"""The batch executor's merge calibration and the batcher's wait policy, driven in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kiln.errors import ValidationError
from kiln.runtime.serving.batching import BatchCostModel
from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import Invocation
from kiln.runtime.serving.settings import BatchingMode, ServingSettings
from kiln.runtime.serving.stacking import BatchExecutor

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def executor_for(predict: Callable[[Any], Any]) -> BatchExecutor:
    chain = HandlerChain(
        model=None,
        model_dir=Path("."),
        source="test",
        settings=ServingSettings(),
        default_predict=predict,
        batchable=True,
    )
    return BatchExecutor(chain)


def invocations(*inputs: Any) -> list[Invocation]:
    batch = []
    for data in inputs:
        inv = Invocation(b"", "application/json", "application/json", None, [], ".")
        inv.data = np.asarray(data, dtype=np.float32)
        batch.append(inv)
    return batch


def answers(batch: list[Invocation]) -> list[Any]:
    assert all(inv.reply is not None for inv in batch)
    return [json.loads(inv.reply.body) for inv in batch if inv.reply is not None]


def reshaping_model(x: Any) -> Any:
    """Like the MNIST network: any input becomes rows of 4, so one request of (4,) answers (1, 3)."""
    return x.reshape(-1, 4) @ WEIGHTS


def test_reshaping_model_is_stacked_and_answers_like_one_request_at_a_time() -> None:
    executor = executor_for(reshaping_model)
    inputs = [np.full(4, i, dtype=np.float32) for i in range(5)]
    alone = [reshaping_model(x).tolist() for x in inputs]

    first = invocations(*inputs)
    assert executor.run(first) is True  # the first batch of this shape calibrates
    assert answers(first) == alone
    assert executor.plans() == [{"input": "float32[4]", "merge": "stack"}]

    calls = executor.model_calls
    second = invocations(*inputs)
    assert executor.run(second) is False
    assert executor.model_calls == calls + 1  # five requests, one model call
    for merged, single in zip(answers(second), alone, strict=True):
        # Same nesting as alone, (1, 3) rather than a row of 3; BLAS may round the last bits differently.
        assert np.shape(merged) == (1, 3)
        np.testing.assert_allclose(merged, single, rtol=1e-6)
    assert executor.largest_merge == 5


def test_model_mixing_requests_is_not_merged() -> None:
    def centre(x: Any) -> Any:
        return x - x.mean()

    executor = executor_for(centre)
    inputs = [[1, 2, 3], [10, 20, 30], [5, 5, 8]]
    for _ in range(2):
        batch = invocations(*inputs)
        executor.run(batch)
        for values, answer in zip(inputs, answers(batch), strict=True):
            np.testing.assert_allclose(answer, np.array(values) - np.mean(values), rtol=1e-6)
    assert executor.plans() == [{"input": "float32[3]", "merge": "none (not batch-safe)"}]
    assert executor.merged_requests == 0


def test_row_model_that_refuses_a_stack_is_concatenated() -> None:
    def rows_only(x: Any) -> Any:
        if x.ndim != 2:
            raise ValueError(f"Expected 2D array, got {x.ndim}D array instead")
        return x.sum(axis=1)

    executor = executor_for(rows_only)
    inputs = [[[1, 2]], [[3, 4]], [[5, 6]]]
    executor.run(invocations(*inputs))
    batch = invocations(*inputs)
    executor.run(batch)
    assert answers(batch) == [[3.0], [7.0], [11.0]]
    assert executor.plans() == [{"input": "float32[1, 2]", "merge": "concat"}]
    assert executor.merged_requests == 3


def test_a_failing_request_in_a_merged_call_fails_alone() -> None:
    def refuse_negative(x: Any) -> Any:
        if (x < 0).any():
            raise ValidationError("negative values are not allowed; send values >= 0")
        return x * 2

    executor = executor_for(refuse_negative)
    executor.run(invocations([1, 2], [3, 4]))  # calibrates: stack
    batch = invocations([1, 1], [-1, 0], [2, 2])
    executor.run(batch)
    statuses = [inv.reply.status for inv in batch if inv.reply is not None]
    assert statuses == [200, 400, 200]
    assert answers(batch)[0] == [2.0, 2.0]
    assert "negative values" in answers(batch)[1]["error"]


def test_calibration_waits_for_a_batch_where_every_request_succeeds() -> None:
    def refuse_negative(x: Any) -> Any:
        if (x < 0).any():
            raise ValueError("negative")
        return x * 2

    executor = executor_for(refuse_negative)
    executor.run(invocations([1, 2], [-3, 4]))
    assert executor.plans() == []  # undecided, not "unsafe"
    executor.run(invocations([1, 2], [3, 4]))
    assert executor.plans() == [{"input": "float32[2]", "merge": "stack"}]


def test_different_shapes_are_grouped_apart() -> None:
    executor = executor_for(lambda x: x * 2)
    batch = invocations([1, 2], [1, 2, 3], [3, 4], [4, 5, 6])
    executor.run(batch)
    assert answers(batch) == [[2, 4], [2, 4, 6], [6, 8], [8, 10, 12]]
    assert {plan["input"] for plan in executor.plans()} == {"float32[2]", "float32[3]"}


def test_batches_run_at_once_at_low_load() -> None:
    cost = BatchCostModel()
    assert cost.wait_before_running(1, 0.0, 32, 0.002) == 0.0  # nothing known yet
    for i in range(20):
        cost.arrived(i * 0.5)  # one request every 500 ms
        cost.batch_ran(1, 0.002)
    assert cost.wait_before_running(1, 0.0, 32, 0.002) == 0.0


def test_batches_wait_briefly_for_company_under_load() -> None:
    cost = BatchCostModel()
    for size in (1, 4, 8, 16, 32) * 4:
        cost.batch_ran(size, 0.002 + 0.0005 * size)  # 2 ms fixed, 0.5 ms per request
    fixed, per_request = cost.fit()
    assert fixed == pytest.approx(0.002, rel=0.01)
    assert per_request == pytest.approx(0.0005, rel=0.01)
    for i in range(50):
        cost.arrived(i * 0.0002)  # a request every 0.2 ms
    wait = cost.wait_before_running(3, 0.0005, 32, 0.002)
    assert 0.0 < wait <= 0.0015
    assert cost.wait_before_running(3, 0.002, 32, 0.002) == 0.0  # the oldest waited long enough
    assert cost.wait_before_running(32, 0.0, 32, 0.002) == 0.0  # a full batch runs at once


def test_settings_from_the_environment() -> None:
    settings = ServingSettings.from_env({})
    assert settings.max_payload_bytes == 6_291_456
    assert settings.batching is BatchingMode.AUTO
    assert settings.max_batch_size == 32
    assert settings.max_batch_delay_s == pytest.approx(0.002)
    custom = ServingSettings.from_env(
        {"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1", "KILN_BATCHING": "OFF", "KILN_MAX_BATCH_SIZE": "8"}
    )
    assert (custom.max_payload_bytes, custom.batching, custom.max_batch_size) == (
        1_048_576,
        BatchingMode.OFF,
        8,
    )
    with pytest.raises(ValidationError, match="KILN_BATCHING='sometimes'"):
        ServingSettings.from_env({"KILN_BATCHING": "sometimes"})
    with pytest.raises(ValidationError, match="KILN_MAX_BATCH_SIZE"):
        ServingSettings.from_env({"KILN_MAX_BATCH_SIZE": "0"})
