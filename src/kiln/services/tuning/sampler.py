"""Which Optuna sampler searches a tuning job: the one place a strategy becomes a sampler.

Bayesian is a Gaussian process (Optuna's ``GPSampler``) for the budgets SageMaker users run, and TPE
where the GP costs more than it gains. ``benchmarks/tuning.py --search-only`` measures the choice (12
trials, 2 in parallel, 20 seeds; docs/tuning-search.md has the figures): the GP's best beats random
search's median best in 85-95 % of seeds on a smooth mixed space, Branin and a mostly categorical
space, where TPE does so in 65-75 %; with 8 categorical parameters they tie at 12 trials and the GP
wins at 40. At 150 trials the GP still finds as good a best as TPE, but its time per trial grows with
the trials it fits (to seconds: the tuning engine runs in the server's supervisor thread), so budgets
above ``GP_MAX_TRIALS`` get TPE.
Hyperband keeps TPE (a GP learns nothing from pruned trials), and so does a server without PyTorch and
SciPy, which Optuna's GP needs.

Parallel trials: the GP proposes each new trial with the running trials' parameters as pending points
(a batch expected improvement, Optuna's ``qLogEI``); TPE uses a constant liar. Either way two trials
started together do not land on the same point.
"""

from __future__ import annotations

import enum
import importlib.util
import warnings
from collections.abc import Sequence

import optuna
from optuna.samplers import BaseSampler, GPSampler, GridSampler, RandomSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from kiln.services.tuning.config import CategoricalRange, Strategy, TuningConfig

__all__ = ["BayesianModel", "bayesian_model", "choose_sampler", "gaussian_process_available"]

# Measured with benchmarks/tuning.py --search-only (docs/tuning-search.md has the figures).
GP_MAX_TRIALS = 100  # above this budget TPE: each GP fit costs more with every trial it has seen
# Random trials before the GP (9 of 12 are then the GP's). On the smooth objective, 20 seeds: 3 start-up
# trials beat random search's median in 19 seeds, 2 in only 8 (two parallel trials of one random pair
# leave the GP too little to fit).
GP_STARTUP_TRIALS = 3
MAX_TPE_STARTUP_TRIALS = 10  # Optuna's default; small budgets get fewer random trials before TPE
MIN_TPE_STARTUP_TRIALS = 3


class BayesianModel(str, enum.Enum):
    GAUSSIAN_PROCESS = "GaussianProcess"
    TPE = "TPE"


class _OnceGridSampler(GridSampler):
    """Grid search driven by ask and tell: Kiln stops after the grid itself, so the sampler never
    calls ``study.stop()`` (which Optuna allows only inside ``optimize``)."""

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        return None


def gaussian_process_available() -> bool:
    """Optuna's GP runs on PyTorch and SciPy, which Kiln does not require (the ``tuning`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "scipy"))


def bayesian_model(config: TuningConfig) -> BayesianModel:
    """The surrogate a Bayesian search uses for this job's budget."""
    if config.max_jobs > GP_MAX_TRIALS or not gaussian_process_available():
        return BayesianModel.TPE
    return BayesianModel.GAUSSIAN_PROCESS


def _tpe(config: TuningConfig, seed: int) -> TPESampler:
    startup = min(MAX_TPE_STARTUP_TRIALS, max(MIN_TPE_STARTUP_TRIALS, config.max_jobs // 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True)


def choose_sampler(
    config: TuningConfig, seed: int, trials_so_far: int = 0, model: BayesianModel | None = None
) -> BaseSampler:
    """The sampler for a tuning job; ``trials_so_far`` are the trials its study already holds.

    ``model`` overrides ``bayesian_model(config)`` for a Bayesian search (the benchmark compares both).
    """
    if config.strategy is Strategy.GRID:
        grid = {item.name: list(item.values) for item in config.ranges if isinstance(item, CategoricalRange)}
        return _OnceGridSampler(grid, seed=seed)  # the same order after a restart: grid ids stay valid
    # Random samplers restart their stream with their seed; offset it so a restarted server does not
    # propose the first trials' values again.
    seed += trials_so_far
    if config.strategy is Strategy.RANDOM:
        return RandomSampler(seed=seed)
    if (
        config.strategy is Strategy.BAYESIAN
        and (model or bayesian_model(config)) is BayesianModel.GAUSSIAN_PROCESS
    ):
        return GPSampler(seed=seed, n_startup_trials=GP_STARTUP_TRIALS, warn_independent_sampling=False)
    return _tpe(config, seed)  # Hyperband prunes trials, which a GP cannot learn from: TPE
