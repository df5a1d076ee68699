"""Names made as SageMaker's SDK makes them, and waits that always end."""

from __future__ import annotations

import re
import time

import pytest

import kiln
from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.naming import base_from_name, name_from_base, tuning_job_name
from kiln.sdk.waiters import WAITERS, get_waiter

SLOW_SCRIPT = """
import time
time.sleep(float(__import__("os").environ.get("NAP", "3")))
"""


def test_names_carry_a_millisecond_timestamp_within_63_characters() -> None:
    name = name_from_base("pytorch-training")
    assert re.fullmatch(r"pytorch-training-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}", name)
    assert base_from_name(name) == "pytorch-training"
    long = name_from_base("x" * 100)
    assert len(long) == 63
    assert name_from_base("my_job.v2").startswith("my-job-v2-")  # only SageMaker's characters
    assert re.fullmatch(r"pytorch-inference-\d{6}-\d{4}", name_from_base("pytorch-inference", short=True))
    tuning = tuning_job_name("a-very-long-tuning-job-base-name-indeed")
    assert len(tuning) <= 32
    assert tuning != tuning_job_name("a-very-long-tuning-job-base-name-indeed")


def test_a_wait_that_runs_out_of_checks_says_where_the_job_is(session: kiln.Session, write_script) -> None:
    source = write_script(SLOW_SCRIPT)
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    started = time.monotonic()
    with pytest.raises(
        UnexpectedStatusException, match=rf"Training job {name} is still InProgress after"
    ) as e:
        WAITERS["TrainingJobEnded"].wait(session.client, name, delay=0.2, max_attempts=3)
    assert 0.4 <= time.monotonic() - started < 3
    assert e.value.actual_status == "InProgress"
    # Session.wait_for_job takes SageMaker's poll and returns once the job ended.
    description = session.wait_for_job(name, poll=0.25)
    assert description["TrainingJobStatus"] == "Completed"


def test_an_unknown_waiter_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match="EndpointInService"):
        get_waiter("EndpointOutOfService")
    assert get_waiter("EndpointInService").max_attempts * get_waiter("EndpointInService").delay <= 3600
