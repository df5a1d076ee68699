"""What a Kiln training job costs over running the same script by hand.

Runs the tutorial script (examples/mnist/mnist.py) bare — ``python mnist.py`` with the same data and
arguments — and as a Kiln job on a fresh embedded server, interleaved, several rounds, and prints:

* job wall time ÷ bare wall time (target ≤ 1.05), submission to the job's end against the bare
  process's start to its exit;
* submission-to-first-script-line latency (target ≤ 0.5 s): from the SDK's create call to the
  script's first printed line, less the same delay in the bare run (Python and torch start-up
  are the script's own cost, not Kiln's).

    python benchmarks/job_overhead.py [--rounds 3] [--training-steps 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist"
sys.path.insert(0, str(EXAMPLE))


def bare_run(data: Path, steps: int) -> tuple[float, float]:
    """(wall seconds, seconds to the first line) of ``python mnist.py``."""
    with tempfile.TemporaryDirectory() as model_dir:
        command = [
            sys.executable,
            str(EXAMPLE / "mnist.py"),
            "--data-dir",
            str(data),
            "--model-dir",
            model_dir,
            "--training-steps",
            str(steps),
        ]
        started = time.time()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        first_line = None
        for _ in process.stdout:
            if first_line is None:
                first_line = time.time()
        process.wait()
        ended = time.time()
        if process.returncode != 0:
            raise SystemExit(f"the bare run failed with exit code {process.returncode}")
    return ended - started, (first_line or ended) - started


def kiln_run(session: object, inputs: str, steps: int) -> tuple[float, float]:
    import kiln

    assert isinstance(session, kiln.Session)
    estimator = kiln.PyTorch(
        entry_point=str(EXAMPLE / "mnist.py"),
        hyperparameters={"training-steps": steps},
        sagemaker_session=session,
    )
    submitted = time.time()
    estimator.fit(inputs, wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    first_line = None
    for event in session.client.follow_training_job(name):
        if event["type"] == "log" and first_line is None and event["message"].startswith("mnist:"):
            first_line = datetime.fromisoformat(event["timestamp"]).timestamp()
        if event["type"] == "end":
            if event["status"] != "Completed":
                raise SystemExit(f"the Kiln job {name} ended {event['status']}")
            break
    ended = time.time()
    return ended - submitted, (first_line or ended) - submitted


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--training-steps", type=int, default=300)
    args = parser.parse_args()

    from prepare_data import prepare

    data = prepare(EXAMPLE / "data")
    home = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ["KILN_HOME"] = home
    os.environ.pop("KILN_URL", None)
    import kiln

    session = kiln.Session()
    inputs = session.upload_data(str(data), key_prefix="data/mnist")
    kiln_run(session, inputs, 5)  # warm the server and the page cache; not measured

    bare_walls, bare_firsts, kiln_walls, kiln_firsts = [], [], [], []
    for round_number in range(1, args.rounds + 1):
        wall, first = bare_run(data, args.training_steps)
        bare_walls.append(wall)
        bare_firsts.append(first)
        wall, first = kiln_run(session, inputs, args.training_steps)
        kiln_walls.append(wall)
        kiln_firsts.append(first)
        print(
            f"round {round_number}: bare {bare_walls[-1]:.2f} s (first line {bare_firsts[-1]:.3f} s), "
            f"kiln {kiln_walls[-1]:.2f} s (first line {kiln_firsts[-1]:.3f} s)",
            flush=True,
        )
    ratio = statistics.median(k / b for k, b in zip(kiln_walls, bare_walls, strict=True))
    latency = statistics.median(k - b for k, b in zip(kiln_firsts, bare_firsts, strict=True))
    print(f"job wall time / bare wall time: {ratio:.3f} (median of {args.rounds}; target <= 1.05)")
    print(
        f"submission to first script line: {statistics.median(kiln_firsts):.3f} s, of which Kiln's own "
        f"{latency:.3f} s beyond the script's start-up (target <= 0.5 s)"
    )
    subprocess.run(
        [sys.executable, "-m", "kiln", "server", "stop"], env=dict(os.environ), capture_output=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
