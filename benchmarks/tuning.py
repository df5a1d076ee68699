"""Hyperparameter tuning on a real, cheap task: a small NumPy MLP on scikit-learn's digits.

Every trial is a Kiln training job on a fresh embedded server (its own KILN_HOME). The task: one
hidden layer, SGD with momentum, tuned over learning rate (log), hidden units (log), L2 (log) and
momentum (reverse log); the objective is validation accuracy on 597 held-out digits. Prints:

1. Bayesian (TPE) vs Random: for several seeds, how many trials each needs before one reaches the
   target accuracy (short 10-epoch runs; a run stops at the target or after --max-jobs trials,
   counted as max-jobs + 1); the median over seeds.
2. Early stopping Auto vs Off: the same Random proposals (same seed) with longer runs (90 epochs,
   augmented, accuracy reported every 3 epochs): total trial-seconds (training start to end, summed
   over trials), epochs trained (the same saving, free of the machine's load) and the best objective.
   Targets: saves >= 40 % of trial-seconds, best within 0.5 points.
3. The tuner's overhead per trial (one trial at a time): the time from a trial's end to the next
   trial's creation (the tuner's own share; target <= 0.5 s), and to that trial's training start.
0. First, in process and without jobs (``tuning_search.py``): Bayesian vs Random on objectives of
   different shapes, 20 seeds each, 12 trials, 2 in parallel: the share of seeds in which Bayesian's
   best beats Random's median best (goal >= 80 %), GP and TPE side by side, the sampler's time per
   trial, and the large-budget check behind the GP/TPE choice.

    python benchmarks/tuning.py [--seeds 8] [--max-jobs 40] [--stopping-seeds 2] [--stopping-jobs 20]
    python benchmarks/tuning.py --search-only [--search-seeds 20] [--trials 12] [--large-trials 150]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import tuning_search  # benchmarks/tuning_search.py, beside this file

TARGET_ACCURACY = 0.97  # about 1 in 100 random configurations of the short run reach it
SHORT_RUN = {"epochs": 10, "report-every": 1, "augment": 0}
LONG_RUN = {"epochs": 90, "report-every": 3, "augment": 20}
POLL_SECONDS = 0.2
OBJECTIVE = "validation:accuracy"

TRIAL_SCRIPT = '''
"""A small MLP on scikit-learn's digits, in NumPy: prints ``epoch=E val_accuracy=A``."""

import argparse
import os

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float, default=0.05)
parser.add_argument("--hidden", type=int, default=64)
parser.add_argument("--l2", type=float, default=1e-4)
parser.add_argument("--momentum", type=float, default=0.9)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--report-every", type=int, default=1)
parser.add_argument("--augment", type=int, default=0)  # shifted copies of each image per epoch
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args()

with np.load(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "digits.npz")) as data:
    x_train, y_train, x_val, y_val = data["x_train"], data["y_train"], data["x_val"], data["y_val"]
rng = np.random.default_rng(args.seed)
w1 = rng.normal(0.0, np.sqrt(2.0 / 64), (64, args.hidden)).astype(np.float32)
b1 = np.zeros(args.hidden, np.float32)
w2 = rng.normal(0.0, np.sqrt(1.0 / args.hidden), (args.hidden, 10)).astype(np.float32)
b2 = np.zeros(10, np.float32)
params = [w1, b1, w2, b2]
velocity = [np.zeros_like(p) for p in params]
eye = np.eye(10, dtype=np.float32)


def shifted(images):
    grid, out = images.reshape(-1, 8, 8), np.zeros((len(images), 8, 8), np.float32)
    dy, dx = rng.integers(-1, 2, size=2)
    ys, yd = (slice(0, 8 - dy), slice(dy, 8)) if dy >= 0 else (slice(-dy, 8), slice(0, 8 + dy))
    xs, xd = (slice(0, 8 - dx), slice(dx, 8)) if dx >= 0 else (slice(-dx, 8), slice(0, 8 + dx))
    out[:, yd, xd] = grid[:, ys, xs]
    return out.reshape(-1, 64)


def accuracy(x, y):
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    logits = np.nan_to_num(logits, nan=0.0, posinf=0.0, neginf=0.0)
    return float((logits.argmax(axis=1) == y).mean())


with np.errstate(all="ignore"):
    for epoch in range(1, args.epochs + 1):
        x_epoch = np.concatenate([x_train] + [shifted(x_train) for _ in range(args.augment)])
        y_epoch = np.tile(y_train, args.augment + 1)
        order = rng.permutation(len(x_epoch))
        for start in range(0, len(order), args.batch_size):
            batch = order[start : start + args.batch_size]
            x, target = x_epoch[batch], eye[y_epoch[batch]]
            h = np.maximum(x @ w1 + b1, 0)
            logits = h @ w2 + b2
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            d_logits = (probs - target) / len(batch)
            d_h = (d_logits @ w2.T) * (h > 0)
            grads = [x.T @ d_h, d_h.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)]
            for p, g, v in zip(params, grads, velocity):
                v *= args.momentum
                v -= args.learning_rate * (g + args.l2 * p)
                p += v
        if epoch % args.report_every == 0 or epoch == args.epochs:
            print(f"epoch={epoch} val_accuracy={accuracy(x_val, y_val):.4f}", flush=True)
'''


def prepare_digits(folder: Path) -> Path:
    """scikit-learn's 1,797 digits (bundled, no download), scaled to [0, 1]: 1,200 train, 597 validation."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "digits.npz", x_train=x[:1200], y_train=y[:1200], x_val=x[1200:], y_val=y[1200:])
    return folder


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


class Bench:
    def __init__(self, source: Path, inputs: str) -> None:
        import kiln
        from kiln.sdk.tuning_client import TuningClient

        self.kiln = kiln
        self.session = kiln.Session()
        self.tuning = TuningClient(self.session.client)
        self.source = source
        self.inputs = inputs
        self.runs = 0

    def tuner(self, strategy: str, run: dict[str, int], seed: int, max_jobs: int, early_stopping: str) -> Any:
        kiln = self.kiln
        estimator = kiln.Estimator(
            "train.py",
            source_dir=str(self.source),
            hyperparameters=dict(run),
            metric_definitions=[{"Name": OBJECTIVE, "Regex": r"val_accuracy=([0-9.]+)"}],
            sagemaker_session=self.session,
        )
        return kiln.HyperparameterTuner(
            estimator,
            objective_metric_name=OBJECTIVE,
            hyperparameter_ranges={
                "learning-rate": kiln.ContinuousParameter(1e-4, 1.0, "Logarithmic"),
                "hidden": kiln.IntegerParameter(4, 256, "Logarithmic"),
                "l2": kiln.ContinuousParameter(1e-6, 1e-1, "Logarithmic"),
                "momentum": kiln.ContinuousParameter(0.5, 0.999, "ReverseLogarithmic"),
            },
            strategy=strategy,
            max_jobs=max_jobs,
            max_parallel_jobs=1,
            early_stopping_type=early_stopping,
            random_seed=seed,
        )

    def start(self, tuner: Any) -> str:
        self.runs += 1
        name = f"bench-{self.runs}-{int(time.time()) % 100000}"
        tuner.fit({"training": self.inputs}, job_name=name, wait=False)
        return name

    def finish(self, names: list[str], stop_at: float | None = None) -> list[list[dict[str, Any]]]:
        """Wait for the tuning jobs to end (stopping each once a trial reaches ``stop_at``); their trials
        in the order they started."""
        running = set(names)
        while running:
            for name in sorted(running):
                description = self.tuning.describe_tuning_job(name)
                status = description["HyperParameterTuningJobStatus"]
                best = (description.get("BestTrainingJob") or {}).get(
                    "FinalHyperParameterTuningJobObjectiveMetric"
                )
                if status in ("Completed", "Failed", "Stopped"):
                    running.discard(name)
                elif stop_at is not None and best and best["Value"] >= stop_at and status == "InProgress":
                    self.tuning.stop_tuning_job(name)
            time.sleep(POLL_SECONDS)
        return [
            self.tuning.list_training_jobs_for_tuning_job(
                name, sort_by="CreationTime", sort_order="Ascending", limit=1000
            )
            for name in names
        ]

    def epochs_trained(self, training_job: str) -> int:
        """Epochs the trial ran: it reports its accuracy every ``report-every`` epochs."""
        reports = self.session.client.training_job_metrics(training_job)
        return sum(1 for m in reports if m["MetricName"] == OBJECTIVE) * LONG_RUN["report-every"]

    def stop_all(self) -> None:
        """Stop what still runs (an interrupted benchmark), so no trial outlives the server."""
        for job in self.tuning.list_tuning_jobs(status="InProgress", limit=1000):
            self.tuning.stop_tuning_job(job["HyperParameterTuningJobName"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.tuning.list_tuning_jobs(status="Stopping", limit=1000):
            time.sleep(POLL_SECONDS)


def objective(trial: dict[str, Any]) -> float | None:
    metric = trial.get("FinalHyperParameterTuningJobObjectiveMetric")
    return None if metric is None else float(metric["Value"])


def trials_to_target(trials: list[dict[str, Any]], target: float, max_jobs: int) -> int:
    for index, trial in enumerate(trials, start=1):
        if trial["TrainingJobStatus"] == "Completed" and (objective(trial) or 0.0) >= target:
            return index
    return max_jobs + 1


def trial_seconds(trials: list[dict[str, Any]]) -> float:
    return sum(
        (when(t["TrainingEndTime"]) - when(t["TrainingStartTime"])).total_seconds()
        for t in trials
        if t.get("TrainingStartTime") and t.get("TrainingEndTime")
    )


def gaps(trials: list[dict[str, Any]], to: str) -> list[float]:
    """From each trial's end to the next trial's ``to`` time (trials one at a time)."""
    return [
        (when(later[to]) - when(earlier["TrainingEndTime"])).total_seconds()
        for earlier, later in itertools.pairwise(trials)
        if earlier.get("TrainingEndTime") and later.get(to)
    ]


def compare_strategies(
    bench: Bench, seeds: int, max_jobs: int, runs: list[list[dict[str, Any]]]
) -> list[str]:
    print(f"1. Bayesian vs Random: trials until validation accuracy >= {TARGET_ACCURACY}", flush=True)
    reached: dict[str, list[int]] = {"Bayesian": [], "Random": []}
    for seed in range(1, seeds + 1):
        for strategy in ("Bayesian", "Random"):
            tuner = bench.tuner(strategy, SHORT_RUN, seed, max_jobs, "Off")
            [trials] = bench.finish([bench.start(tuner)], stop_at=TARGET_ACCURACY)
            runs.append(trials)
            count = trials_to_target(trials, TARGET_ACCURACY, max_jobs)
            reached[strategy].append(count)
            best = max((objective(t) or 0.0) for t in trials)
            shown = str(count) if count <= max_jobs else f"not within {max_jobs}"
            print(f"   seed {seed} {strategy:8s}: {shown:>16s} (best {best:.4f})", flush=True)
    bayes, random = statistics.median(reached["Bayesian"]), statistics.median(reached["Random"])
    return [
        f"  Bayesian vs Random, median trials to reach {TARGET_ACCURACY} over {seeds} seeds "
        f"(not reached within {max_jobs}: counted {max_jobs + 1}):",
        f"    Bayesian {bayes:.1f}  Random {random:.1f}  ratio Random/Bayesian {random / bayes:.2f}",
        f"    per seed: Bayesian {reached['Bayesian']}  Random {reached['Random']}",
    ]


def compare_early_stopping(
    bench: Bench, seeds: int, max_jobs: int, runs: list[list[dict[str, Any]]]
) -> list[str]:
    print("2. Early stopping Auto vs Off (same Random proposals, 90-epoch runs)", flush=True)
    seconds = {"Off": 0.0, "Auto": 0.0}
    epochs = {"Off": 0, "Auto": 0}
    bests: dict[str, list[float]] = {"Off": [], "Auto": []}
    stopped = 0
    for seed in range(1, seeds + 1):
        for mode in ("Off", "Auto"):
            tuner = bench.tuner("Random", LONG_RUN, 100 + seed, max_jobs, mode)
            [trials] = bench.finish([bench.start(tuner)])
            runs.append(trials)
            seconds[mode] += trial_seconds(trials)
            trained = sum(bench.epochs_trained(t["TrainingJobName"]) for t in trials)
            epochs[mode] += trained
            bests[mode].append(max((objective(t) or 0.0) for t in trials))
            early = sum(1 for t in trials if t.get("EarlyStopped"))
            stopped += early
            print(
                f"   seed {seed} {mode:4s}: {trial_seconds(trials):6.1f} trial-seconds, {trained:5d} epochs, "
                f"best {bests[mode][-1]:.4f}, {early} of {len(trials)} trials stopped early",
                flush=True,
            )
    saved = 1 - seconds["Auto"] / seconds["Off"]
    saved_epochs = 1 - epochs["Auto"] / epochs["Off"]
    best_gap = max(off - auto for off, auto in zip(bests["Off"], bests["Auto"], strict=True)) * 100
    return [
        f"  Early stopping over {seeds} seeds x {max_jobs} trials ({stopped} trials stopped early):",
        f"    trial-seconds Off {seconds['Off']:.1f}  Auto {seconds['Auto']:.1f}  saved {saved:.1%} "
        f"(target >= 40%) {'OK' if saved >= 0.40 else 'MISSED'}",
        f"    epochs trained (the same saving, free of the machine's load) Off {epochs['Off']}  Auto "
        f"{epochs['Auto']}  saved {saved_epochs:.1%}",
        f"    best objective Off {[round(b, 4) for b in bests['Off']]}  Auto "
        f"{[round(b, 4) for b in bests['Auto']]}  worst gap {best_gap:.2f} points (target <= 0.5) "
        f"{'OK' if best_gap <= 0.5 else 'MISSED'}",
    ]


def overhead(runs: list[list[dict[str, Any]]]) -> list[str]:
    to_creation = [g for trials in runs for g in gaps(trials, "CreationTime")]
    to_start = [g for trials in runs for g in gaps(trials, "TrainingStartTime")]
    if not to_creation:
        return []
    median_gap = statistics.median(to_creation)
    return [
        f"  Tuner overhead per trial (end -> next created), {len(to_creation)} gaps: median "
        f"{median_gap:.3f} s, max {max(to_creation):.3f} s (target <= 0.5 s) "
        f"{'OK' if median_gap <= 0.5 else 'MISSED'}",
        f"  End -> next trial's training start (tuner + job start-up): median "
        f"{statistics.median(to_start):.3f} s, max {max(to_start):.3f} s",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=8, help="seeds for Bayesian vs Random (0: skip)")
    parser.add_argument("--max-jobs", type=int, default=40, help="trial budget per Bayesian/Random run")
    parser.add_argument("--stopping-seeds", type=int, default=2, help="seeds for early stopping (0: skip)")
    parser.add_argument("--stopping-jobs", type=int, default=20, help="trials per early-stopping run")
    parser.add_argument("--search-only", action="store_true", help="only the in-process search comparison")
    tuning_search.add_arguments(parser)
    args = parser.parse_args()
    search_lines = tuning_search.run(args) if args.search_seeds else []
    if args.search_only:
        print("\n".join(["", *search_lines]))
        return 0

    home = Path(tempfile.mkdtemp(prefix="kiln-bench-tuning-"))
    os.environ["KILN_HOME"] = str(home)
    os.environ.pop("KILN_URL", None)
    os.environ.setdefault("KILN_STOP_GRACE_SECONDS", "10")
    source = home / "source"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(TRIAL_SCRIPT))
    try:
        import kiln

        session = kiln.Session()
        inputs = session.upload_data(str(prepare_digits(home / "data")), key_prefix="data/digits")
        bench = Bench(source, inputs)
        runs: list[list[dict[str, Any]]] = []
        lines: list[str] = list(search_lines)
        if args.seeds:
            lines += compare_strategies(bench, args.seeds, args.max_jobs, runs)
        if args.stopping_seeds:
            lines += compare_early_stopping(bench, args.stopping_seeds, args.stopping_jobs, runs)
        lines += overhead(runs)
        print()
        print("Results (one machine, one trial at a time)")
        for line in lines:
            print(line)
    except BaseException:
        if "bench" in locals():
            bench.stop_all()
        raise
    finally:
        subprocess.run(
            [sys.executable, "-m", "kiln", "server", "stop"], env=dict(os.environ), capture_output=True
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
