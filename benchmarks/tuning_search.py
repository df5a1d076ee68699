"""Bayesian vs Random search, in process: Kiln's sampler choice on objectives of different shapes.

No jobs run: each objective is a Python function, and each search is driven the way Kiln's tuning
engine drives it (``study.ask(distributions)`` while fewer than ``--parallel`` trials run; the oldest
running trial ends first), with the sampler from ``kiln.services.tuning.sampler.choose_sampler`` and the
distributions from ``kiln.services.tuning.study.distributions``. For each objective and seed it records
the best value of ``--trials`` trials, then prints:

- Random's median best over the seeds, and the share of seeds in which Kiln's Bayesian (and, beside it,
  each surrogate forced) ends strictly above that median (goal for Bayesian: >= 80 %);
- the sampler's own time per trial (the time ``ask`` takes), median and 90th percentile.

The ``large`` rows check the other side of the choice: at a large budget, and on a mostly categorical
space, TPE vs GP (both forced), best and time per trial.

    python benchmarks/tuning.py --search-only [--search-seeds 20] [--trials 12] [--parallel 2]
    python benchmarks/tuning_search.py [same options]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

from kiln.services.tuning.config import (
    CategoricalRange,
    ContinuousRange,
    IntegerRange,
    ParameterRange,
    Scaling,
    Strategy,
    TuningConfig,
)
from kiln.services.tuning.sampler import BayesianModel, bayesian_model, choose_sampler
from kiln.services.tuning.study import distributions, hyperparameter_value

optuna.logging.set_verbosity(optuna.logging.ERROR)

Objective = Callable[[dict[str, str], np.random.Generator], float]


@dataclass(frozen=True)
class Problem:
    name: str
    shape: str
    ranges: tuple[ParameterRange, ...]
    objective: Objective  # maximized; receives the hyperparameters as the training job gets them


def _smooth(hp: dict[str, str], rng: np.random.Generator) -> float:
    """The issue's shape: one continuous, one integer, one categorical parameter, one smooth optimum."""
    x, layers = float(hp["x"]), int(hp["layers"])
    bonus = {"relu": 0.0, "tanh": -0.3, "sigmoid": -1.0}[hp["activation"]]
    return -((x - 0.37) ** 2) * 10 - 0.05 * (layers - 6) ** 2 + bonus


def _branin(hp: dict[str, str], rng: np.random.Generator) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]: three global optima in a curved valley (negated)."""
    x1, x2 = float(hp["x1"]), float(hp["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return -((x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10)


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def _hartmann6(hp: dict[str, str], rng: np.random.Generator) -> float:
    """Hartmann-6 on [0, 1]^6: six local optima, a narrow global one (3.32)."""
    x = np.array([float(hp[f"x{i}"]) for i in range(6)])
    return float(np.sum(_H6_ALPHA * np.exp(-np.sum(_H6_A * (x - _H6_P) ** 2, axis=1))))


def _training(hp: dict[str, str], rng: np.random.Generator) -> float:
    """A training run's validation accuracy: log-scaled learning rate and L2, momentum near 1, a
    batch size; a cliff where the learning rate diverges; noisy like a real run."""
    lr, l2 = math.log10(float(hp["learning_rate"])), math.log10(float(hp["l2"]))
    momentum, batch = float(hp["momentum"]), int(hp["batch_size"])
    effective = lr - math.log10(1 - momentum) * 0.5 - 0.3 * math.log2(batch / 64)
    if effective > -0.5:
        return 0.1 + rng.normal(0, 0.01)  # diverged: chance level
    accuracy = 0.98 - 0.08 * (effective + 1.8) ** 2 - 0.03 * (l2 + 4) ** 2
    return max(0.1, accuracy) + rng.normal(0, 0.003)


def _categorical(hp: dict[str, str], rng: np.random.Generator) -> float:
    """Mostly categorical: four choices with their own effects (one interaction) and one rate."""
    table = {"a": 0.0, "b": 0.4, "c": -0.3, "d": 0.1}
    score = sum(table[hp[f"c{i}"]] * (i + 1) / 4 for i in range(4))
    score += 0.5 if hp["c0"] == hp["c1"] else 0.0
    return score - (math.log10(float(hp["rate"])) + 2) ** 2 / 4


PROBLEMS = [
    Problem(
        "smooth",
        "3 parameters: continuous, integer, categorical",
        (
            ContinuousRange("x", 0.0, 1.0),
            IntegerRange("layers", 1, 12),
            CategoricalRange("activation", ("relu", "tanh", "sigmoid")),
        ),
        _smooth,
    ),
    Problem(
        "branin",
        "2 continuous, three optima",
        (ContinuousRange("x1", -5.0, 10.0), ContinuousRange("x2", 0.0, 15.0)),
        _branin,
    ),
    Problem(
        "hartmann6",
        "6 continuous, multimodal",
        tuple(ContinuousRange(f"x{i}", 0.0, 1.0) for i in range(6)),
        _hartmann6,
    ),
    Problem(
        "training",
        "log / reverse-log / integer, a cliff, noise",
        (
            ContinuousRange("learning_rate", 1e-5, 1.0, Scaling.LOGARITHMIC),
            ContinuousRange("l2", 1e-7, 1e-1, Scaling.LOGARITHMIC),
            ContinuousRange("momentum", 0.5, 0.999, Scaling.REVERSE_LOGARITHMIC),
            IntegerRange("batch_size", 16, 512, Scaling.LOGARITHMIC),
        ),
        _training,
    ),
]
CATEGORICAL = Problem(
    "categorical",
    "4 categorical, 1 log-scaled",
    (
        *(CategoricalRange(f"c{i}", ("a", "b", "c", "d")) for i in range(4)),
        ContinuousRange("rate", 1e-4, 1.0, Scaling.LOGARITHMIC),
    ),
    _categorical,
)


@dataclass(frozen=True)
class Run:
    best: float
    ask_seconds: list[float]


def search(
    problem: Problem,
    strategy: Strategy,
    seed: int,
    trials: int,
    parallel: int,
    model: BayesianModel | None = None,
) -> Run:
    config = TuningConfig(
        strategy=strategy,
        objective_metric="objective",
        maximize=True,
        max_jobs=trials,
        max_parallel=parallel,
        ranges=problem.ranges,
        early_stopping=False,
        random_seed=seed,
    )
    spaces = distributions(config)
    study = optuna.create_study(direction="maximize", sampler=choose_sampler(config, seed, model=model))
    noise = np.random.default_rng(seed + 10_000)
    running: deque[optuna.Trial] = deque()
    asked = 0
    ask_seconds: list[float] = []
    best = -math.inf
    while asked < trials or running:
        while asked < trials and len(running) < parallel:
            started = time.perf_counter()
            running.append(study.ask(spaces))
            ask_seconds.append(time.perf_counter() - started)
            asked += 1
        trial = running.popleft()
        hyperparameters = {r.name: hyperparameter_value(r, trial.params[r.name]) for r in problem.ranges}
        value = problem.objective(hyperparameters, noise)
        study.tell(trial, value)
        best = max(best, value)
    return Run(best, ask_seconds)


def _times(runs: list[Run]) -> str:
    seconds = sorted(s for run in runs for s in run.ask_seconds)
    p90 = seconds[min(len(seconds) - 1, int(0.9 * len(seconds)))]
    return f"{statistics.median(seconds) * 1000:7.1f} / {p90 * 1000:7.1f} ms"


def _stages(runs: list[Run], trials: int) -> str:
    """The sampler's median time per trial in each third of the budget (a GP's grows with the trials)."""
    thirds = [(i * trials // 3, (i + 1) * trials // 3) for i in range(3)]
    medians = [
        statistics.median(s for run in runs for s in run.ask_seconds[lo:hi]) * 1000 for lo, hi in thirds
    ]
    return " / ".join(
        f"trials {lo + 1}-{hi}: {m:.1f} ms" for (lo, hi), m in zip(thirds, medians, strict=True)
    )


def compare(problem: Problem, seeds: int, trials: int, parallel: int, stages: bool = False) -> list[str]:
    random_runs = [search(problem, Strategy.RANDOM, s, trials, parallel) for s in range(seeds)]
    median = statistics.median(r.best for r in random_runs)
    lines = [
        f"{problem.name} ({problem.shape}); Random's median best of {trials}: {median:.4f}",
        f"    {'sampler':<34} {'beats median':>12}   {'median best':>11}   ask median / p90",
        f"    {'Random':<34} {_share(random_runs, median):>12}   {_median(random_runs):>11.4f}   "
        f"{_times(random_runs)}",
    ]
    config = TuningConfig(Strategy.BAYESIAN, "objective", True, trials, parallel, problem.ranges, False)
    chosen = bayesian_model(config)
    for model in (BayesianModel.GAUSSIAN_PROCESS, BayesianModel.TPE):
        runs = [search(problem, Strategy.BAYESIAN, s, trials, parallel, model) for s in range(seeds)]
        label = f"{model.value}" + (" = Kiln's Bayesian" if model is chosen else "")
        lines.append(f"    {label:<34} {_share(runs, median):>12}   {_median(runs):>11.4f}   {_times(runs)}")
        if stages:
            lines.append(f"      {model.value} ask median by stage: {_stages(runs, trials)}")
    return lines


def _share(runs: list[Run], median: float) -> str:
    wins = sum(r.best > median for r in runs)
    return f"{wins}/{len(runs)} {100 * wins / len(runs):3.0f}%"


def _median(runs: list[Run]) -> float:
    return statistics.median(r.best for r in runs)


def run(args: Any) -> list[str]:
    lines = [
        f"Bayesian vs Random, in process: {args.search_seeds} seeds, {args.trials} trials, "
        f"{args.parallel} in parallel (share of seeds whose best beats Random's median best; goal >= 80 %)"
    ]
    for problem in [*PROBLEMS, CATEGORICAL]:
        lines += compare(problem, args.search_seeds, args.trials, args.parallel)
        print("\n".join(lines[-5:]), flush=True)
    if args.large_trials:
        seeds = max(1, args.search_seeds // 4)
        for problem in (PROBLEMS[2], PROBLEMS[3]):
            lines.append(f"large budget: {problem.name}, {args.large_trials} trials, {seeds} seeds")
            lines += compare(problem, seeds, args.large_trials, args.parallel, stages=True)[1:]
            print("\n".join(lines[-6:]), flush=True)
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--search-seeds", type=int, default=20, help="seeds per objective (0: skip)")
    parser.add_argument("--trials", type=int, default=12, help="trials per search")
    parser.add_argument("--parallel", type=int, default=2, help="trials running at once")
    parser.add_argument("--large-trials", type=int, default=150, help="the large-budget check (0: skip)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    lines = run(parser.parse_args())
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
