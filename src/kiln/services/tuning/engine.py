"""The tuning engine: one ``step`` moves one tuning job forward; the supervisor calls it on every pass.

A step follows the running trials (reports their new objective values to Optuna, asks the pruner
whether to stop them, tells Optuna how each one ended), decides whether the tuning job is ending, and
otherwise asks Optuna for new trials while fewer than ``MaxParallelTrainingJobs`` run. Each trial is
an ordinary training job, created through ``TrainingJobService``.

Every decision is written before it is acted on, in this order: the Optuna trial (the journal), the
trial row, then the training job, whose name follows from the trial number. A step that a crash cut
short is finished by the next step after a restart: a trial without its row gets one, a row without
its training job gets it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from kiln import metadata
from kiln.errors import Conflict, KilnError, ResourceLimitExceeded, UserError
from kiln.metadata import Database
from kiln.metadata import tuning_jobs as tuning_rows
from kiln.records import (
    CapacityUse,
    ObjectiveStatus,
    TrainingJob,
    TrainingJobStatus,
    TuningJob,
    TuningJobStatus,
    TuningTrial,
    utcnow,
)
from kiln.services.training_jobs import TrainingJobService
from kiln.services.tuning.config import TuningConfig, parse_tuning_request
from kiln.services.tuning.study import distributions, hyperparameter_value, open_study, optuna_value
from kiln.services.tuning.trials import trial_job_name, trial_training_request

__all__ = ["TuningEngine"]

log = logging.getLogger("kiln.tuning")

FAIL_FAST_TRIALS = 5  # when this many trials ended and none yielded the objective, the job fails
WARM_START_BEST_TRIALS = 5  # at most this many of the parents' best trials are run again first
FAILED_STEPS_BEFORE_GIVING_UP = 20  # consecutive failing steps (10 s) before the job is failed


@dataclass
class _OpenStudy:
    job_id: int
    config: TuningConfig
    study: optuna.Study
    distributions: dict[str, BaseDistribution]
    objective_regex: str | None
    trials: dict[int, optuna.Trial] = field(default_factory=dict)  # by trial number


@dataclass(frozen=True)
class _Verdict:
    """Where the tuning job is heading: its ending, and whether running trials are stopped for it."""

    status: TuningJobStatus
    reason: str | None
    stop_trials: bool


def _suggest_all(trial: optuna.Trial, spaces: dict[str, BaseDistribution]) -> dict[str, Any]:
    """Every parameter of the trial; values it already has are kept (Optuna returns them again)."""
    params: dict[str, Any] = {}
    for name, space in spaces.items():
        if isinstance(space, CategoricalDistribution):
            params[name] = trial.suggest_categorical(name, space.choices)
        elif isinstance(space, FloatDistribution):
            params[name] = trial.suggest_float(name, space.low, space.high, log=space.log)
        elif isinstance(space, IntDistribution):
            params[name] = trial.suggest_int(name, space.low, space.high, log=space.log)
    return params


@dataclass
class TuningEngine:
    db: Database
    training_jobs: TrainingJobService
    _open: dict[str, _OpenStudy] = field(default_factory=dict)
    _failed_steps: dict[str, int] = field(default_factory=dict)

    def step_all(self) -> None:
        """One step of every tuning job that has not ended; one job's failure never blocks the others."""
        for job in tuning_rows.list_active_tuning_jobs(self.db):
            try:
                self.step(job.name)
                self._failed_steps.pop(job.name, None)
            except Exception as e:
                self._open.pop(job.name, None)  # reopened from the journal next time
                failures = self._failed_steps.get(job.name, 0) + 1
                self._failed_steps[job.name] = failures
                log.exception("tuning job %s: step failed (%d in a row)", job.name, failures)
                if failures >= FAILED_STEPS_BEFORE_GIVING_UP:
                    detail = e.message if isinstance(e, KilnError) else f"{type(e).__name__}: {e}"
                    tuning_rows.end_tuning_job(
                        self.db, job.name, TuningJobStatus.FAILED, utcnow(), f"InternalServerError: {detail}"
                    )

    def step(self, name: str) -> None:
        job = tuning_rows.get_tuning_job(self.db, name)
        if job.status.is_terminal():
            self._open.pop(name, None)
            return
        opened = self._study(job)
        trials = self._adopt_unrecorded_trials(job, opened, tuning_rows.list_trials(self.db, name))
        verdict = self._verdict(job, opened.config, trials)
        stopping = verdict is not None and verdict.status is TuningJobStatus.STOPPED
        if stopping and job.status is TuningJobStatus.IN_PROGRESS:  # it shows Stopping, as on a stop
            job = tuning_rows.request_tuning_stop(self.db, name, utcnow())
        for trial in trials:
            if trial.objective_status is ObjectiveStatus.PENDING:
                self._follow(job, opened, trial, stop=verdict is not None and verdict.stop_trials)
        trials = tuning_rows.list_trials(self.db, name)
        verdict = self._verdict(job, opened.config, trials)
        if verdict is None:
            self._launch(job, opened, trials)
        elif all(t.objective_status is not ObjectiveStatus.PENDING for t in trials):
            tuning_rows.end_tuning_job(self.db, name, verdict.status, utcnow(), verdict.reason)
            self._open.pop(name, None)

    # -- the study ------------------------------------------------------------------------------------

    def _study(self, job: TuningJob) -> _OpenStudy:
        opened = self._open.get(job.name)
        if opened is None:
            config = parse_tuning_request(job.config)
            job_id = tuning_rows.tuning_job_id(self.db, job.name)
            study = open_study(self.db, job_id, job.name, config, job.random_seed)
            opened = _OpenStudy(job_id, config, study, distributions(config), _objective_regex(job, config))
            if config.warm_start_parents and not study.get_trials(deepcopy=False):
                self._enqueue_parents_best(opened)
            self._open[job.name] = opened
        return opened

    def _enqueue_parents_best(self, opened: _OpenStudy) -> None:
        """Warm start: the parents' best trials run first (values outside the new ranges are left to
        the sampler)."""
        config = opened.config
        done = [
            trial
            for parent in config.warm_start_parents
            for trial in tuning_rows.list_trials(self.db, parent)
            if trial.objective_status is ObjectiveStatus.SUCCEEDED and trial.objective_value is not None
        ]
        done.sort(key=lambda t: t.objective_value or 0.0, reverse=config.maximize)
        wanted = max(1, min(WARM_START_BEST_TRIALS, config.max_jobs // 2))
        seen: list[dict[str, Any]] = []
        for trial in done:
            params: dict[str, Any] = {}
            for item in config.ranges:
                raw = trial.tuned_hyperparameters.get(item.name)
                value = None if raw is None else optuna_value(item, raw)
                if value is not None:
                    params[item.name] = value
            if params and params not in seen:
                opened.study.enqueue_trial(params)
                seen.append(params)
            if len(seen) >= wanted:
                return

    def _optuna_trial(self, opened: _OpenStudy, number: int) -> optuna.Trial:
        trial = opened.trials.get(number)
        if trial is None:
            # After a restart: the trial's handle again, from the study (ids are the storage's own).
            frozen = opened.study.get_trials(deepcopy=False)[number]
            trial = optuna.Trial(opened.study, frozen._trial_id)
            opened.trials[number] = trial
        return trial

    def _frozen(self, opened: _OpenStudy, number: int) -> FrozenTrial:
        return opened.study.get_trials(deepcopy=False)[number]

    # -- trials ---------------------------------------------------------------------------------------

    def _record_trial(
        self, job: TuningJob, opened: _OpenStudy, number: int, params: dict[str, Any]
    ) -> TuningTrial:
        tuned = {
            item.name: hyperparameter_value(item, params[item.name])
            for item in opened.config.ranges
            if item.name in params
        }
        return tuning_rows.insert_trial(
            self.db, job.name, number, trial_job_name(job.name, number), tuned, utcnow()
        )

    def _adopt_unrecorded_trials(
        self, job: TuningJob, opened: _OpenStudy, trials: list[TuningTrial]
    ) -> list[TuningTrial]:
        """Optuna trials started by a step that a crash cut short, before their row was written."""
        recorded = {t.number for t in trials}
        adopted = False
        for frozen in opened.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if frozen.number in recorded:
                continue
            trial = self._optuna_trial(opened, frozen.number)
            self._record_trial(job, opened, frozen.number, _suggest_all(trial, opened.distributions))
            adopted = True
        return tuning_rows.list_trials(self.db, job.name) if adopted else trials

    def _launch(self, job: TuningJob, opened: _OpenStudy, trials: list[TuningTrial]) -> None:
        running = sum(1 for t in trials if t.objective_status is ObjectiveStatus.PENDING)
        started = len(trials)
        while running < opened.config.max_parallel and started < opened.config.max_jobs:
            trial = opened.study.ask(opened.distributions)
            opened.trials[trial.number] = trial
            row = self._record_trial(job, opened, trial.number, trial.params)
            self._start_training_job(job, opened, row)
            running += 1
            started += 1

    def _start_training_job(self, job: TuningJob, opened: _OpenStudy, trial: TuningTrial) -> None:
        try:
            request = trial_training_request(job.config, trial.training_job_name, trial.tuned_hyperparameters)
            # A Pending job waits its turn.
            self.training_jobs.create(request, tuning_job=job.name, use=CapacityUse.TUNING)
        except ResourceLimitExceeded:
            return  # no capacity now: the trial waits, and the next step tries again
        except Conflict:
            return  # created by a step that a crash cut short
        except UserError as e:
            self._conclude_without_objective(
                opened, trial, f"the training job could not be created: {e.message}"
            )

    def _objective_values(self, opened: _OpenStudy, training: TrainingJob) -> list[float]:
        values = metadata.list_metric_values(self.db, training.name, metric=opened.config.objective_metric)
        if training.hosts:  # the first host speaks for the job, as in its status
            values = [v for v in values if v.host == training.hosts[0].host]
        return [v.value for v in values]

    def _follow(self, job: TuningJob, opened: _OpenStudy, trial: TuningTrial, *, stop: bool) -> None:
        training = metadata.find_training_job(self.db, trial.training_job_name)
        if training is None:
            if stop:
                self._conclude_without_objective(
                    opened, trial, "the tuning job ended before this trial's training job was started"
                )
            else:
                self._start_training_job(job, opened, trial)
            return
        values = self._objective_values(opened, training)
        optuna_trial = self._optuna_trial(opened, trial.number)
        reported = len(self._frozen(opened, trial.number).intermediate_values)
        # Steps are the order in which the trial printed the objective: 1, 2, …
        for step, value in enumerate(values[reported:], start=reported + 1):
            optuna_trial.report(value, step)
        if training.status.is_terminal():
            self._conclude(opened, trial, training, values)
        elif training.status is TrainingJobStatus.IN_PROGRESS:
            if stop:
                self._stop_training_job(training.name)
            elif opened.config.early_stopping and len(values) > reported and optuna_trial.should_prune():
                tuning_rows.update_trial(self.db, trial.training_job_name, early_stopped=True)
                log.info("tuning job %s: stopping trial %s early", job.name, training.name)
                self._stop_training_job(training.name)

    def _stop_training_job(self, name: str) -> None:
        try:
            self.training_jobs.stop(name)
        except Conflict:
            pass  # it ended meanwhile; the next step concludes it

    def _conclude(
        self, opened: _OpenStudy, trial: TuningTrial, training: TrainingJob, values: list[float]
    ) -> None:
        metric = opened.config.objective_metric
        if training.status is TrainingJobStatus.COMPLETED and values:
            self._tell(opened, trial.number, TrialState.COMPLETE, values[-1])
            tuning_rows.update_trial(
                self.db,
                trial.training_job_name,
                objective_status=ObjectiveStatus.SUCCEEDED,
                objective_value=values[-1],
            )
        elif training.status is TrainingJobStatus.STOPPED and values:
            # A stopped trial counts with the best value it reached.
            best = max(values) if opened.config.maximize else min(values)
            self._tell(opened, trial.number, TrialState.PRUNED, None)
            tuning_rows.update_trial(
                self.db,
                trial.training_job_name,
                objective_status=ObjectiveStatus.SUCCEEDED,
                objective_value=best,
            )
        elif training.status is TrainingJobStatus.FAILED:
            self._tell(opened, trial.number, TrialState.FAIL, None)
            tuning_rows.update_trial(
                self.db, trial.training_job_name, objective_status=ObjectiveStatus.FAILED
            )
        elif training.status is TrainingJobStatus.COMPLETED:
            shown = f" (Regex '{opened.objective_regex}')" if opened.objective_regex else ""
            self._conclude_without_objective(
                opened,
                trial,
                f"the training job completed without printing the objective metric {metric!r}: no log "
                f"line matched its metric definition{shown}; check the Regex against the script's output",
            )
        else:
            self._conclude_without_objective(
                opened,
                trial,
                f"the training job was stopped before it printed the objective metric {metric!r}",
            )

    def _conclude_without_objective(self, opened: _OpenStudy, trial: TuningTrial, reason: str) -> None:
        self._tell(opened, trial.number, TrialState.FAIL, None)
        tuning_rows.update_trial(
            self.db, trial.training_job_name, objective_status=ObjectiveStatus.FAILED, failure_reason=reason
        )

    def _tell(self, opened: _OpenStudy, number: int, state: TrialState, value: float | None) -> None:
        if self._frozen(opened, number).state.is_finished():
            return  # told before a crash cut the step short
        opened.study.tell(number, value, state=state)
        opened.trials.pop(number, None)

    # -- the tuning job's ending ----------------------------------------------------------------------

    def _verdict(self, job: TuningJob, config: TuningConfig, trials: list[TuningTrial]) -> _Verdict | None:
        if config.max_runtime_seconds is not None:
            deadline = job.creation_time + timedelta(seconds=config.max_runtime_seconds)
            if (job.stop_requested_at or utcnow()) >= deadline:
                reason = (
                    f"MaxRuntimeInSeconds ({config.max_runtime_seconds} s) was reached; the running "
                    "training jobs were stopped"
                )
                return _Verdict(TuningJobStatus.STOPPED, reason, stop_trials=True)
        if job.stop_requested_at is not None:
            return _Verdict(TuningJobStatus.STOPPED, None, stop_trials=True)
        succeeded = any(t.objective_status is ObjectiveStatus.SUCCEEDED for t in trials)
        failed = [t for t in trials if t.objective_status is ObjectiveStatus.FAILED]
        if not succeeded and len(failed) >= min(config.max_jobs, FAIL_FAST_TRIALS):
            return _Verdict(TuningJobStatus.FAILED, _all_failed_reason(failed), stop_trials=True)
        if len(trials) >= config.max_jobs:
            if succeeded:
                return _Verdict(TuningJobStatus.COMPLETED, None, stop_trials=False)
            return _Verdict(TuningJobStatus.FAILED, _all_failed_reason(failed), stop_trials=False)
        return None


def _objective_regex(job: TuningJob, config: TuningConfig) -> str | None:
    definition = job.config.get("TrainingJobDefinition") or {}
    for item in (definition.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []:
        if item.get("Name") == config.objective_metric:
            return str(item.get("Regex"))
    return None


def _all_failed_reason(failed: list[TuningTrial]) -> str:
    if not failed:
        return "No training job yielded the objective metric"
    first = failed[0]
    return (
        f"All {len(failed)} training jobs that ended failed to yield the objective metric; the first, "
        f"{first.training_job_name}: {first.failure_reason or 'failed'}"
    )
