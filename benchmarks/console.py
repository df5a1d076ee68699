"""The console's training-job list with 10,000 jobs: server time to render the first page.

Inserts 10,000 jobs straight into a temporary database through ``kiln.metadata``, then renders
``GET /training-jobs`` (and a filtered page) through the real app in-process (httpx's ASGI transport,
no network), and prints the median server time of several renders against the 300 ms target.

    python benchmarks/console.py [--jobs 10000] [--renders 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import timedelta

import httpx

from kiln import metadata
from kiln.artifacts import resolve_store
from kiln.config import load_settings
from kiln.executors import resolve_executor
from kiln.metadata import Database
from kiln.records import utcnow
from kiln.server.app import create_app

TARGET_MS = 300.0
TYPES = ("ml.m5.large", "ml.c5.xlarge", "ml.g4dn.xlarge", "local")


def _spec(name: str, index: int) -> dict[str, object]:
    return {
        "TrainingJobName": name,
        "HyperParameters": {"epochs": str(index % 50), "sagemaker_program": '"train.py"'},
        "ResourceConfig": {"InstanceType": TYPES[index % len(TYPES)], "InstanceCount": 1 + index % 4},
        "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
    }


def _fill(db: Database, jobs: int) -> None:
    start = utcnow() - timedelta(days=30)
    for i in range(jobs):
        name = f"bench-job-{i:05d}"
        metadata.insert_training_job(
            db, name, _spec(name, i), ["algo-1"], start + timedelta(seconds=i * 60), "bench"
        )


async def _render(app: object, path: str, renders: int) -> list[float]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    times = []
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        for _ in range(renders + 1):
            began = time.perf_counter()
            answer = await client.get(path)
            elapsed = (time.perf_counter() - began) * 1000
            answer.raise_for_status()
            assert "bench-job-" in answer.text, answer.text[:500]
            times.append(elapsed)
    return times[1:]  # the first render also compiles the template


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["KILN_HOME"] = home
        for variable in ("KILN_DATABASE_URL", "KILN_ARTIFACT_URL", "KILN_API_TOKEN", "KILN_CONFIG"):
            os.environ.pop(variable, None)
        settings = load_settings()
        db = Database(settings.database_url)
        db.migrate()
        began = time.perf_counter()
        _fill(db, args.jobs)
        print(f"inserted {args.jobs} jobs in {time.perf_counter() - began:.1f} s")
        app = create_app(settings, db, resolve_store(settings.artifact_url), resolve_executor("local"))
        for label, path in (
            ("first page", "/training-jobs"),
            ("page 100", "/training-jobs?page=100"),
            ("name filter", "/training-jobs?name=job-09"),
            ("status filter", "/training-jobs?status=InProgress"),
        ):
            times = asyncio.run(_render(app, path, args.renders))
            median = statistics.median(times)
            verdict = "OK" if median < TARGET_MS else "OVER TARGET"
            print(
                f"{label:>13}: median {median:6.1f} ms, max {max(times):6.1f} ms over {args.renders} renders "
                f"(target < {TARGET_MS:.0f} ms: {verdict}, {TARGET_MS / median:.0f}x headroom)"
            )


if __name__ == "__main__":
    main()
