"""A tuning job's Optuna study: kept in Kiln's database, searched the way its strategy names.

The study is an Optuna ``JournalStorage`` whose journal lives in Kiln's ``tuning_job_journal`` table,
so it is under Kiln's own migrations and survives a server restart: reopening the study replays the
journal. (Optuna's ``RDBStorage`` cannot share Kiln's database: both keep their schema version in
Alembic's ``alembic_version`` table and each refuses the other's.)

Strategies (``sampler`` turns one into an Optuna sampler): Bayesian is a Gaussian process for budgets
up to 100 trials and TPE above, Random is random search, Grid walks the grid once in a seeded order,
Hyperband is TPE with Optuna's Hyperband pruner. Early stopping ``Auto`` is the median rule: a trial
whose best value so far is worse than the median of finished trials at the same step is stopped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner
from optuna.storages import JournalStorage
from optuna.storages.journal import BaseJournalBackend

from kiln.metadata import Database
from kiln.metadata.tuning_journal import append_journal_entries, list_journal_entries
from kiln.services.tuning.config import (
    CategoricalRange,
    IntegerRange,
    ParameterRange,
    Scaling,
    Strategy,
    TuningConfig,
)
from kiln.services.tuning.sampler import choose_sampler

__all__ = [
    "KilnJournalBackend",
    "distributions",
    "hyperparameter_value",
    "open_study",
    "optuna_value",
]

# Early stopping "Auto": trials are judged against the median once this many have finished, and never
# on their first report (the first value of a run says little about where it ends).
EARLY_STOPPING_STARTUP_TRIALS = 3
EARLY_STOPPING_WARMUP_STEPS = 2
HYPERBAND_REDUCTION_FACTOR = 3

optuna.logging.set_verbosity(optuna.logging.WARNING)  # a trial's end is in Kiln's records, not the log


class KilnJournalBackend(BaseJournalBackend):
    """Optuna's journal of one tuning job, in Kiln's database."""

    def __init__(self, db: Database, tuning_job_id: int) -> None:
        self._db = db
        self._tuning_job_id = tuning_job_id

    def read_logs(self, log_number_from: int) -> Iterable[dict[str, Any]]:
        return list_journal_entries(self._db, self._tuning_job_id, from_seq=log_number_from)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        append_journal_entries(self._db, self._tuning_job_id, logs)


def _distribution(item: ParameterRange) -> BaseDistribution:
    if isinstance(item, CategoricalRange):
        return CategoricalDistribution(list(item.values))
    if isinstance(item, IntegerRange):
        return IntDistribution(item.low, item.high, log=item.scaling is Scaling.LOGARITHMIC)
    if item.scaling is Scaling.REVERSE_LOGARITHMIC:
        # Dense near 1: 1 - x is searched on a log scale.
        return FloatDistribution(1.0 - item.high, 1.0 - item.low, log=True)
    return FloatDistribution(item.low, item.high, log=item.scaling is Scaling.LOGARITHMIC)


def distributions(config: TuningConfig) -> dict[str, BaseDistribution]:
    return {item.name: _distribution(item) for item in config.ranges}


def hyperparameter_value(item: ParameterRange, value: Any) -> str:
    """What the training job gets for Optuna's ``value``: the hyperparameter as a string."""
    if isinstance(item, CategoricalRange):
        return str(value)
    if isinstance(item, IntegerRange):
        return str(int(value))
    number = float(value)
    if item.scaling is Scaling.REVERSE_LOGARITHMIC:
        number = 1.0 - number
    return repr(min(item.high, max(item.low, number)))


def optuna_value(item: ParameterRange, hyperparameter: str) -> Any | None:
    """The Optuna value for a hyperparameter string (a parent job's), or None when outside the range."""
    try:
        if isinstance(item, CategoricalRange):
            return hyperparameter if hyperparameter in item.values else None
        if isinstance(item, IntegerRange):
            whole = int(float(hyperparameter))
            return whole if item.low <= whole <= item.high else None
        number = float(hyperparameter)
    except ValueError:
        return None
    if not (math.isfinite(number) and item.low <= number <= item.high):
        return None
    return 1.0 - number if item.scaling is Scaling.REVERSE_LOGARITHMIC else number


def _pruner(config: TuningConfig) -> BasePruner:
    if config.strategy is Strategy.HYPERBAND:
        return HyperbandPruner(
            min_resource=config.hyperband_min_resource or 1,
            max_resource=config.hyperband_max_resource or "auto",
            reduction_factor=HYPERBAND_REDUCTION_FACTOR,
        )
    if config.early_stopping:
        return MedianPruner(
            n_startup_trials=EARLY_STOPPING_STARTUP_TRIALS, n_warmup_steps=EARLY_STOPPING_WARMUP_STEPS
        )
    return NopPruner()


def open_study(db: Database, tuning_job_id: int, name: str, config: TuningConfig, seed: int) -> optuna.Study:
    """The job's study, created on first use and replayed from the journal after that."""
    storage = JournalStorage(KilnJournalBackend(db, tuning_job_id))
    try:
        trials_so_far = len(storage.get_all_trials(storage.get_study_id_from_name(name), deepcopy=False))
    except KeyError:
        trials_so_far = 0
    return optuna.create_study(
        storage=storage,
        study_name=name,
        direction="maximize" if config.maximize else "minimize",
        sampler=choose_sampler(config, seed, trials_so_far),
        pruner=_pruner(config),
        load_if_exists=True,
    )
