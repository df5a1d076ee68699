"""The cost of data-parallel training on Kiln: the same global steps on 1 host and on 2 hosts.

Trains the tutorial's CNN in its Estimator-functions form (examples/mnist/mnist_estimator.py, driven by
Kiln's trainer) for the same number of global steps on 1 and on 2 hosts, one after the other on a
fresh embedded server, and prints wall time, steps/s and final accuracy side by side. A second pair of
2-host jobs runs a probe that times DDP steps with and without the gradient all-reduce
(``no_sync``), giving the share of step time spent in the all-reduce.

On a 2-core machine no speed-up is expected (two hosts share the same two cores): the point is the
overhead. On a GPU machine the same job runs with NCCL and SM_NUM_GPUS=1.

    python benchmarks/distributed.py [--training-steps 300]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mnist"
sys.path.insert(0, str(EXAMPLE))

PROBE = textwrap.dedent(
    """
    import json, os, sys, time
    import torch, torch.distributed as dist
    sys.path.insert(0, os.path.dirname(__file__))
    from mnist_estimator import MnistCnn

    hosts = json.loads(os.environ["SM_HOSTS"])
    dist.init_process_group("gloo", init_method="env://")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model = torch.nn.parallel.DistributedDataParallel(MnistCnn(0.4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.rand(100, 28, 28), torch.randint(0, 10, (100,))

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def timed(n, sync):
        dist.barrier()
        start = time.perf_counter()
        for _ in range(n):
            if sync:
                step()
            else:
                with model.no_sync():
                    step()
        return (time.perf_counter() - start) / n

    timed(5, True)
    with_sync, without = timed(40, True), timed(40, False)
    if dist.get_rank() == 0:
        print(f"probe step_with_allreduce={with_sync:.5f} step_without={without:.5f} "
              f"allreduce_share={max(0.0, 1 - without / with_sync):.3f}", flush=True)
    dist.destroy_process_group()
    """
)


def run_job(session: object, inputs: str, hosts: int, steps: int) -> dict[str, float]:
    import kiln

    assert isinstance(session, kiln.Session)
    estimator = kiln.PyTorch(
        entry_point=str(EXAMPLE / "mnist_estimator.py"),
        training_steps=steps,
        evaluation_steps=100,
        instance_count=hosts,
        sagemaker_session=session,
    )
    started = time.monotonic()
    estimator.fit(inputs, logs=False)
    wall = time.monotonic() - started
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    rates = [
        float(m.group(1))
        for e in session.client.training_job_logs(name, limit=10_000)["Events"]
        if (m := re.match(r"global_step/sec: ([0-9.eE+-]+)", e["message"]))
    ]
    metrics = estimator.final_metrics()
    steady = rates[1:] or rates  # the first rate includes start-up
    return {"wall": wall, "steps_per_s": sum(steady) / max(1, len(steady)), "accuracy": metrics["accuracy"]}


def run_probe(session: object, inputs: str) -> str:
    import kiln

    assert isinstance(session, kiln.Session)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "probe.py").write_text(PROBE)
        (Path(folder) / "mnist_estimator.py").write_text((EXAMPLE / "mnist_estimator.py").read_text())
        estimator = kiln.PyTorch("probe.py", source_dir=folder, instance_count=2, sagemaker_session=session)
        estimator.fit(inputs, logs=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    lines = [e["message"] for e in session.client.training_job_logs(name)["Events"]]
    return next((line for line in lines if line.startswith("probe ")), "probe: no result")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--training-steps", type=int, default=300)
    args = parser.parse_args()
    from prepare_data import prepare

    data = prepare(EXAMPLE / "data")
    os.environ["KILN_HOME"] = tempfile.mkdtemp(prefix="kiln-bench-dist-")
    os.environ.pop("KILN_URL", None)
    import kiln

    session = kiln.Session()
    inputs = session.upload_data(str(data), key_prefix="data/mnist")
    results = {hosts: run_job(session, inputs, hosts, args.training_steps) for hosts in (1, 2)}
    print(f"{'hosts':>5} {'wall s':>8} {'steps/s':>8} {'accuracy':>9}")
    for hosts, result in results.items():
        print(f"{hosts:>5} {result['wall']:>8.1f} {result['steps_per_s']:>8.2f} {result['accuracy']:>9.4f}")
    print(
        f"wall time 2 hosts / 1 host: {results[2]['wall'] / results[1]['wall']:.2f} "
        f"(same {args.training_steps} global steps; 2 hosts see twice the examples)"
    )
    print(run_probe(session, inputs))
    import subprocess

    subprocess.run([sys.executable, "-m", "kiln", "server", "stop"], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
