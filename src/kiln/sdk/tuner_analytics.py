"""``HyperparameterTuningJobAnalytics``: every trial of a tuning job as a table (SageMaker's analytics)."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any

from kiln.sdk.session import Session
from kiln.sdk.tuning_client import TuningClient
from kiln.sdk.tuning_parameters import decode_hyperparameter

__all__ = ["HyperparameterTuningJobAnalytics"]


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def trial_row(summary: dict[str, Any]) -> dict[str, Any]:
    """One trial: its tuned values (decoded), then SageMaker's columns."""
    start = _time(summary.get("TrainingStartTime"))
    end = _time(summary.get("TrainingEndTime"))
    objective = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    row = {k: decode_hyperparameter(v) for k, v in summary["TunedHyperParameters"].items()}
    row.update(
        {
            "TrainingJobName": summary["TrainingJobName"],
            "TrainingJobStatus": summary["TrainingJobStatus"],
            "ObjectiveStatus": summary.get("ObjectiveStatus"),
            "FinalObjectiveValue": objective.get("Value"),
            "TrainingStartTime": start,
            "TrainingEndTime": end,
            "TrainingElapsedTimeSeconds": (end - start).total_seconds() if start and end else None,
            "EarlyStopped": bool(summary.get("EarlyStopped", False)),
        }
    )
    return row


class HyperparameterTuningJobAnalytics:
    """The trials of ``hyperparameter_tuning_job_name``, in the order they started."""

    def __init__(self, hyperparameter_tuning_job_name: str, sagemaker_session: Session | None = None) -> None:
        self.name = hyperparameter_tuning_job_name
        self._session = sagemaker_session or Session()
        self._description: dict[str, Any] | None = None
        self._summaries: list[dict[str, Any]] | None = None

    def clear_cache(self) -> None:
        self._description = None
        self._summaries = None

    def description(self, force_refresh: bool = False) -> dict[str, Any]:
        if force_refresh or self._description is None:
            self._description = TuningClient(self._session.client).describe_tuning_job(self.name)
        return self._description

    def training_job_summaries(self, force_refresh: bool = False) -> list[dict[str, Any]]:
        if force_refresh or self._summaries is None:
            self._summaries = TuningClient(self._session.client).list_training_jobs_for_tuning_job(
                self.name, sort_by="CreationTime", sort_order="Ascending", limit=1000
            )
        return self._summaries

    def dataframe(self, force_refresh: bool = False) -> Any:
        """A pandas DataFrame when pandas is installed, otherwise the list of row dicts."""
        rows = [trial_row(s) for s in self.training_job_summaries(force_refresh)]
        try:
            pandas = importlib.import_module("pandas")  # optional: not a dependency of Kiln
        except ImportError:
            return rows
        return pandas.DataFrame(rows)
