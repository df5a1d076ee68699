"""The HTTP API's hyperparameter tuning calls, over a ``KilnClient``."""

from __future__ import annotations

from typing import Any

from kiln.sdk.client import KilnClient

__all__ = ["TuningClient"]


class TuningClient:
    def __init__(self, client: KilnClient) -> None:
        self._client = client

    def create_tuning_job(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request.get("HyperParameterTuningJobName", "")
        return self._client.create("/tuning-jobs", request, f"/tuning-jobs/{name}")

    def describe_tuning_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._client.call("GET", f"/tuning-jobs/{name}")
        return result

    def list_tuning_jobs(self, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        answer = self._client.call("GET", "/tuning-jobs", params=params)
        result: list[dict[str, Any]] = answer["HyperParameterTuningJobSummaries"]
        return result

    def stop_tuning_job(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._client.call("POST", f"/tuning-jobs/{name}/stop")
        return result

    def list_training_jobs_for_tuning_job(self, name: str, **filters: Any) -> list[dict[str, Any]]:
        """The trials, best objective first unless ``sort_by`` / ``sort_order`` say otherwise."""
        params = {k: v for k, v in filters.items() if v is not None}
        answer = self._client.call("GET", f"/tuning-jobs/{name}/training-jobs", params=params)
        result: list[dict[str, Any]] = answer["TrainingJobSummaries"]
        return result
