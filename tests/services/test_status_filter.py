"""List filters: an unknown status is refused with the choices."""

from __future__ import annotations

import pytest

from kiln.errors import ValidationError
from kiln.records import TrainingJobStatus
from kiln.services.status_filter import parse_status


def test_status_filters_parse_known_values_and_name_the_choices() -> None:
    assert parse_status(TrainingJobStatus, "Completed", "training job") is TrainingJobStatus.COMPLETED
    assert parse_status(TrainingJobStatus, None, "training job") is None
    with pytest.raises(ValidationError, match="'Done' is not a training job status; use one of InProgress"):
        parse_status(TrainingJobStatus, "Done", "training job")
