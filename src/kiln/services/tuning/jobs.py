"""Hyperparameter tuning jobs as use-cases: create, describe, list, stop, list trials, and step.

Creating a job checks everything it can before anything runs: the tuning settings, the objective
metric, and (through a sample trial) the training job definition. The engine does the tuning itself,
one step per supervisor pass.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from kiln.errors import Conflict, NotFound, ValidationError
from kiln.metadata import Database
from kiln.metadata import tuning_jobs as tuning_rows
from kiln.records import ObjectiveStatus, TuningJob, TuningJobStatus, TuningTrial, utcnow
from kiln.services.job_validation import validate_training_request
from kiln.services.status_filter import parse_status
from kiln.services.training_jobs import TrainingJobService
from kiln.services.tuning.config import (
    CategoricalRange,
    TuningConfig,
    parse_tuning_request,
)
from kiln.services.tuning.engine import TuningEngine
from kiln.services.tuning.request import CreateTuningJobRequest
from kiln.services.tuning.trials import trial_job_name, trial_training_request

__all__ = ["TuningJobOverview", "TuningJobService", "best_trial"]

TRIAL_SORT_KEYS = ("FinalObjectiveMetricValue", "Name", "CreationTime", "Status")
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class TuningJobOverview:
    """A tuning job with its trials and the best of them: everything a describe shows."""

    job: TuningJob
    config: TuningConfig
    trials: tuple[TuningTrial, ...]
    best: TuningTrial | None


def best_trial(
    config: TuningConfig, trials: list[TuningTrial] | tuple[TuningTrial, ...]
) -> TuningTrial | None:
    """The trial with the best objective value; the earliest wins a tie."""
    scored = [
        t for t in trials if t.objective_status is ObjectiveStatus.SUCCEEDED and t.objective_value is not None
    ]
    if not scored:
        return None
    sign = -1.0 if config.maximize else 1.0
    return min(scored, key=lambda t: (sign * (t.objective_value or 0.0), t.number))


@dataclass
class TuningJobService:
    db: Database
    training_jobs: TrainingJobService
    engine: TuningEngine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = TuningEngine(self.db, self.training_jobs)

    # -- users' verbs ---------------------------------------------------------------------------------

    def create(
        self, request: CreateTuningJobRequest, *, as_submitted: dict[str, Any] | None = None
    ) -> TuningJobOverview:
        """Check the definition as a trial's and the warm-start parents, then store the job (the
        engine starts its trials). A door that keeps members Kiln does not act on (the AWS wire, a
        pipeline step) passes the request ``as_submitted``, which is stored instead."""
        config = request.config
        spec = dict(as_submitted) if as_submitted is not None else request.spec
        self._check_definition(spec, config)
        self._check_parents(config)
        seed = config.random_seed if config.random_seed is not None else secrets.randbelow(MAX_SEED)
        job = tuning_rows.insert_tuning_job(
            self.db, request.HyperParameterTuningJobName, spec, seed, utcnow()
        )
        return TuningJobOverview(job, config, (), None)

    def describe(self, name: str) -> TuningJobOverview:
        job = tuning_rows.get_tuning_job(self.db, name)
        config = parse_tuning_request(job.config)
        trials = tuple(tuning_rows.list_trials(self.db, name))
        return TuningJobOverview(job, config, trials, best_trial(config, trials))

    def list_jobs(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TuningJobOverview]:
        wanted = parse_status(TuningJobStatus, status, "tuning job")
        jobs = tuning_rows.list_tuning_jobs(
            self.db, status=wanted, name_contains=name_contains, limit=limit, offset=offset
        )
        return [self.describe(job.name) for job in jobs]

    def stop(self, name: str) -> TuningJobOverview:
        job = tuning_rows.get_tuning_job(self.db, name)
        if job.status.is_terminal():
            raise Conflict(
                f"Hyperparameter tuning job {name!r} has already ended ({job.status.value}); there is "
                "nothing to stop."
            )
        tuning_rows.request_tuning_stop(self.db, name, utcnow())  # the engine stops its trials
        return self.describe(name)

    def trials(
        self,
        name: str,
        *,
        status: str | None = None,
        sort_by: str = "FinalObjectiveMetricValue",
        sort_order: str | None = None,
    ) -> list[TuningTrial]:
        """The job's trials; by default the best objective first, trials without one last."""
        overview = self.describe(name)
        if sort_by not in TRIAL_SORT_KEYS:
            raise ValidationError(f"SortBy {sort_by!r} is not valid; use one of {', '.join(TRIAL_SORT_KEYS)}")
        if sort_order not in (None, "Ascending", "Descending"):
            raise ValidationError(f"SortOrder {sort_order!r} is not valid; use Ascending or Descending")
        trials = list(overview.trials)
        if status:
            trials = [
                t
                for t in trials
                if (t.training_status.value if t.training_status else "InProgress") == status
            ]
        if sort_by == "FinalObjectiveMetricValue":
            descending = overview.config.maximize if sort_order is None else sort_order == "Descending"
            scored = [t for t in trials if t.objective_value is not None]
            scored.sort(key=lambda t: t.objective_value or 0.0, reverse=descending)
            return scored + [t for t in trials if t.objective_value is None]
        keys: dict[str, Any] = {
            "Name": lambda t: t.training_job_name,
            "CreationTime": lambda t: t.creation_time,
            "Status": lambda t: t.training_status.value if t.training_status else "",
        }
        return sorted(trials, key=keys[sort_by], reverse=sort_order == "Descending")

    # -- the engine's pass ----------------------------------------------------------------------------

    def step_all(self) -> None:
        self.engine.step_all()

    # -- checks at creation ---------------------------------------------------------------------------

    def _check_definition(self, request: dict[str, Any], config: TuningConfig) -> None:
        """Check the training job definition the way each trial's training job will be checked."""
        sample = {
            item.name: item.values[0] if isinstance(item, CategoricalRange) else str(item.low)
            for item in config.ranges
        }
        name = trial_job_name(request["HyperParameterTuningJobName"], 0)
        validate_training_request(
            trial_training_request(request, name, sample),
            self.training_jobs.store,
            self.training_jobs.capacity.instance_type,
            auth_enabled=self.training_jobs.settings.auth_enabled,
        )

    def _check_parents(self, config: TuningConfig) -> None:
        for parent in config.warm_start_parents:
            job = tuning_rows.find_tuning_job(self.db, parent)
            if job is None:
                raise NotFound(
                    f"WarmStartConfig names parent tuning job {parent!r}, which does not exist; "
                    "`kiln tuning list` shows the ones that do"
                )
            if not job.status.is_terminal():
                raise ValidationError(
                    f"parent tuning job {parent!r} is still {job.status.value}; warm start from it "
                    "once it has ended"
                )
            parent_metric = parse_tuning_request(job.config).objective_metric
            if parent_metric != config.objective_metric:
                raise ValidationError(
                    f"parent tuning job {parent!r} tuned objective metric {parent_metric!r}, not "
                    f"{config.objective_metric!r}; warm start needs the same objective metric"
                )
