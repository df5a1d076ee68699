"""Batch transform speed: Kiln's transform job against a plain Python loop, on the same rows and model.

An XGBoost model (trained here with xgboost directly on synthetic data: speed does not depend on
what it learnt) is saved as SageMaker's XGBoost container expects it (``xgboost-model`` in a
model.tar.gz) and served by Kiln's XGBoost adapter. The input is ``--rows`` CSV rows of
``--features`` numbers, cut into ``--objects`` objects under one prefix.

* The loop: one process loads the same model (``nthread=1``) and, object by object, reads the CSV,
  parses it with numpy, predicts in batches and writes one prediction per line: at each batch size
  of ``--batch-sizes``; its best batch size is the baseline.
* Kiln: a fresh embedded server (``KILN_HOME`` in a temp folder), ``kiln.Model(...).transformer(
  instance_count=N).transform(prefix, content_type="text/csv", split_type="Line")``, MultiRecord
  batches of MaxPayloadInMB (6 MB), AssembleWith Line, each instance with ``OMP_NUM_THREADS=1``
  (one core each), for N = 1 and N = 2.

Rows/s counts the transforming only (TransformStartTime → TransformEndTime: instances serving until
the last output is written), and, beside it, from the create call to Completed (instances' start-up
included). Targets (GitHub issue 14): Kiln ≥ 0.8× the loop's rows/s with one instance, ≥ 1.6× with
two instances on two cores. The outputs are checked against the loop's, line by line.

    python benchmarks/transform.py [--rows 1000000] [--objects 8] [--features 10] [--trees 100]
"""

from __future__ import annotations

import argparse
import io
import os
import tarfile
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

ONE_INSTANCE_TARGET = 0.8
TWO_INSTANCE_TARGET = 1.6


def train_model(folder: Path, features: int, trees: int, depth: int) -> Path:
    """An XGBoost regressor saved as ``xgboost-model``; returns its model.tar.gz."""
    import xgboost as xgb

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, features))
    y = x @ rng.normal(size=features) + rng.normal(scale=0.1, size=len(x))
    booster = xgb.train(
        {"max_depth": depth, "eta": 0.1, "nthread": 1, "objective": "reg:squarederror"},
        xgb.DMatrix(x, label=y),
        num_boost_round=trees,
    )
    folder.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(folder / "xgboost-model.json"))
    (folder / "xgboost-model.json").rename(folder / "xgboost-model")  # the container's name, JSON format
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "xgboost-model", arcname="xgboost-model")
    return archive


def write_inputs(folder: Path, rows: int, objects: int, features: int) -> list[Path]:
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, chunk in enumerate(np.array_split(np.arange(rows), objects)):
        data = rng.normal(size=(len(chunk), features)).round(4)
        path = folder / f"part-{index:03d}.csv"
        np.savetxt(path, data, delimiter=",", fmt="%.4f")
        paths.append(path)
    return paths


def plain_loop(model_path: Path, inputs: list[Path], batch: int, out_dir: Path) -> tuple[float, list[bytes]]:
    """Seconds to score every object with the loop at ``batch`` rows per predict call."""
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(model_path))
    booster.set_param({"nthread": 1})
    outputs = []
    started = time.perf_counter()
    for path in inputs:
        lines = path.read_bytes().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        parts = []
        for start in range(0, len(lines), batch):
            rows = np.loadtxt(io.BytesIO(b"\n".join(lines[start : start + batch])), delimiter=",", ndmin=2)
            predictions = booster.inplace_predict(rows)
            parts.append("\n".join(map(str, predictions.tolist())))
        body = ("\n".join(parts) + "\n").encode()
        (out_dir / (path.name + ".out")).write_bytes(body)
        outputs.append(body)
    return time.perf_counter() - started, outputs


def kiln_transform(
    session: Any, model_uri: str, prefix: str, instances: int, label: str
) -> tuple[float, float, dict[str, Any]]:
    """(transforming seconds, create-to-Completed seconds, the job's description)."""
    import kiln

    model = kiln.Model(model_data=model_uri, framework="xgboost", sagemaker_session=session)
    transformer = model.transformer(
        instance_count=instances,
        instance_type="local",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        max_payload=6,
        max_concurrent_transforms=2,
        env={"OMP_NUM_THREADS": "1"},
        output_path=f"{session.bucket_uri()}/transform-out/{label}",
    )
    started = time.perf_counter()
    transformer.transform(prefix, content_type="text/csv", split_type="Line", job_name=label, logs=False)
    wall = time.perf_counter() - started
    job = transformer.describe()

    def when(value: Any) -> datetime:
        return (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        )

    busy = (when(job["TransformEndTime"]) - when(job["TransformStartTime"])).total_seconds()
    return busy, wall, job


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=8)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--batch-sizes", default="1000,10000,100000")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kiln-transform-bench-"))
    archive = train_model(work / "model", args.features, args.trees, args.depth)
    inputs = write_inputs(work / "input", args.rows, args.objects, args.features)
    print(
        f"{args.rows} rows × {args.features} features in {args.objects} objects; {args.trees} trees",
        flush=True,
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}", flush=True)

    loop_out = work / "loop-out"
    loop_out.mkdir()
    best: tuple[float, int, list[bytes]] | None = None
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        seconds, outputs = plain_loop(work / "model" / "xgboost-model", inputs, batch, loop_out)
        print(f"loop, batch {batch:>7}: {args.rows / seconds:>10,.0f} rows/s ({seconds:.2f} s)", flush=True)
        if best is None or seconds < best[0]:
            best = (seconds, batch, outputs)
    assert best is not None
    loop_rate = args.rows / best[0]

    os.environ["KILN_HOME"] = str(work / "kiln-home")
    for name in ("KILN_URL", "KILN_API_TOKEN"):  # a fresh local server, reachable without a token
        os.environ.pop(name, None)
    import kiln
    from kiln.config import load_settings
    from kiln.sdk.discovery import read_server_record

    session = kiln.Session()
    server_pid = None
    try:
        model_uri = session.upload_data(str(archive), key_prefix="transform-bench/model")  # starts the server
        record = read_server_record(load_settings())
        server_pid = int(record["pid"]) if record else None
        prefix = session.upload_data(str(work / "input"), key_prefix="transform-bench/input")
        results = {}
        for instances in (1, 2):
            label = f"bench-{instances}-{int(time.time())}"
            busy, wall, _ = kiln_transform(session, model_uri, prefix, instances, label)
            results[instances] = busy
            for path, expected in zip(inputs, best[2], strict=True):
                got = session.client.download(f"{session.bucket_uri()}/transform-out/{label}/{path.name}.out")
                np.testing.assert_allclose(
                    np.array(got.split(), dtype=float), np.array(expected.split(), dtype=float), rtol=1e-5
                )
            print(
                f"kiln, {instances} instance(s): {args.rows / busy:>10,.0f} rows/s transforming "
                f"({busy:.2f} s), {args.rows / wall:,.0f} rows/s from create to Completed ({wall:.2f} s); "
                "outputs match",
                flush=True,
            )
    finally:
        session.close()
        if server_pid is not None:
            import signal

            os.kill(server_pid, signal.SIGTERM)
    one, two = args.rows / results[1] / loop_rate, args.rows / results[2] / loop_rate
    print(f"\nloop (best batch {best[1]}): {loop_rate:,.0f} rows/s")
    for label, ratio, target in (
        ("1 instance", one, ONE_INSTANCE_TARGET),
        ("2 instances", two, TWO_INSTANCE_TARGET),
    ):
        verdict = "PASS" if ratio >= target else "FAIL"
        print(f"kiln {label} ÷ loop: {ratio:.2f}× (target ≥ {target}×) {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
