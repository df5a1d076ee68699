"""Pipeline orchestration overhead: a chain of no-op processing steps on a fresh embedded server.

Each step of the chain depends on the one before (``DependsOn``) and runs ``python3 -c pass``-like
code, so what is measured is the engine's own share: from one step's job ending
(``ProcessingEndTime``) to the next step's job being created (``CreationTime``). Prints each gap, the
median (target <= 0.3 s) and the whole execution's wall time against the sum of its jobs' own times.

    python benchmarks/pipeline.py [--steps 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from typing import Any

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TARGET_SECONDS = 0.3


def _step(name: str, code_uri: str, after: str | None) -> dict[str, Any]:
    step: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 1}
            },
            "AppSpecification": {
                "ImageUri": SKLEARN_IMAGE,
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/noop.py"],
            },
            "RoleArn": "arn:aws:iam::000000000000:role/Bench",
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": code_uri,
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
    }
    if after:
        step["DependsOn"] = [after]
    return step


def _when(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def run_once(session: Any, pipeline: str) -> tuple[list[float], float, float]:
    client = session.client
    started = time.monotonic()
    arn = client.call("POST", f"/pipelines/{pipeline}/executions", json={})["PipelineExecutionArn"]
    execution = arn.rsplit("/", 1)[-1]
    while True:
        described = client.call("GET", f"/pipeline-executions/{execution}")
        if described["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped"):
            break
        time.sleep(0.1)
    wall = time.monotonic() - started
    if described["PipelineExecutionStatus"] != "Succeeded":
        raise SystemExit(f"execution {execution} ended {described['PipelineExecutionStatus']}: {described}")
    steps = client.call("GET", f"/pipeline-executions/{execution}/steps", params={"sort_order": "Ascending"})[
        "PipelineExecutionSteps"
    ]
    jobs = [client.describe_processing_job(s["JobName"]) for s in steps]
    gaps = [
        _when(later["CreationTime"]) - _when(earlier["ProcessingEndTime"])
        for earlier, later in itertools.pairwise(jobs)
    ]
    own = sum(_when(j["ProcessingEndTime"]) - _when(j["CreationTime"]) for j in jobs)
    return gaps, wall, own


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    os.environ["KILN_HOME"] = tempfile.mkdtemp(prefix="kiln-bench-")
    os.environ.pop("KILN_URL", None)
    import kiln

    session = kiln.Session()
    code = session.upload_bytes(b"pass\n", f"{session.bucket_uri()}/bench/code/noop.py")
    names = [f"Step{i:02d}" for i in range(args.steps)]
    steps = [_step(name, code, names[i - 1] if i else None) for i, name in enumerate(names)]
    definition = {"Version": "2020-12-01", "Parameters": [], "Steps": steps}
    session.client.call(
        "POST",
        "/pipelines",
        json={"PipelineName": "bench-chain", "PipelineDefinition": json.dumps(definition)},
    )
    all_gaps: list[float] = []
    for round_number in range(1, args.rounds + 1):
        gaps, wall, own = run_once(session, "bench-chain")
        all_gaps.extend(gaps)
        print(
            f"round {round_number}: {args.steps} steps in {wall:.2f} s (jobs' own {own:.2f} s); gaps "
            + ", ".join(f"{g:.3f}" for g in gaps),
            flush=True,
        )
    median = statistics.median(all_gaps)
    print(
        f"orchestration overhead per step (a job's end to the next job's creation): median {median:.3f} s, "
        f"max {max(all_gaps):.3f} s over {len(all_gaps)} steps (target median <= {TARGET_SECONDS} s)"
    )
    subprocess.run(
        [sys.executable, "-m", "kiln", "server", "stop"], env=dict(os.environ), capture_output=True
    )
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
