"""kill -9 loops: the server is killed with SIGKILL 20 times at random moments while training jobs are
submitted and run, a tuning job proceeds and an endpoint serves a steady load, and is started again
each time. Afterwards nothing is lost or duplicated: every job completed with each of its log lines and
metric values exactly once and its model stored; the tuning job ran each grid point exactly once; no
process is left over; the endpoint's failed requests are only those in flight at a kill; and the
final state is the one a run without kills reaches (computed from the scripts, not observed).

Budget: about two minutes on a 2-core machine (KILN_CHAOS_KILLS changes the number of kills).
"""

from __future__ import annotations

import io
import os
import random
import signal
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import kiln
from conftest import RunningServer, processes_mentioning, start_server, wait_until
from kiln.deserializers import JSONDeserializer
from kiln.errors import KilnError
from kiln.sdk.reconnect import MaybeCarriedOut
from kiln.sdk.tuning_client import TuningClient
from kiln.serializers import JSONSerializer

pytestmark = pytest.mark.chaos

KILLS = int(os.environ.get("KILN_CHAOS_KILLS", "20"))
JOBS = 8
TICKS = 40
KINDS = ["a", "b", "c", "d", "e", "f"]  # the tuning job's grid: one trial each
SCORES = {kind: (i + 1) / 10 for i, kind in enumerate(KINDS)}
END_TIMEOUT = 180.0

TRAIN = f"""
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--kind", type=str, default="")
args, _ = parser.parse_known_args()
name = os.environ["TRAINING_JOB_NAME"]
scores = {SCORES!r}
for i in range({TICKS}):
    print(f"{{name}} tick {{i}} value={{i}}", flush=True)
    time.sleep(0.08)
if args.kind:
    print(f"score={{scores[args.kind]}}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "weights.txt"), "w") as f:
    f.write(name)
"""

INFERENCE = """
import json

def model_fn(model_dir):
    return 2

def input_fn(body, content_type):
    return json.loads(body)

def predict_fn(data, factor):
    return [x * factor for x in data]

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
"""


@dataclass
class Kill:
    sent: float
    reaped: float


@dataclass
class Load:
    sent: int = 0
    wrong: list[str] = field(default_factory=list)
    failed: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, error)


def _estimator(session: kiln.Session, source: Path, **hyperparameters: Any) -> kiln.Estimator:
    return kiln.Estimator(
        "train.py",
        source_dir=str(source),
        hyperparameters=hyperparameters,
        metric_definitions=[
            {"Name": "value", "Regex": r"value=([0-9]+)"},
            {"Name": "score", "Regex": r"score=([0-9.]+)"},
        ],
        sagemaker_session=session,
    )


def _connected_session() -> kiln.Session:
    """A session that has found the server (a first use while it is down would start another)."""
    session = kiln.Session()
    session.client.list_endpoints()
    return session


def _submit_jobs(session: kiln.Session, source: Path, stop: threading.Event, errors: list[str]) -> None:
    try:
        for n in range(JOBS):
            if stop.wait(1.2):
                return
            try:
                _estimator(session, source).fit(job_name=f"chaos-job-{n:02d}", wait=False)
            except KilnError as e:  # reported by the test: a submission must survive the kills
                errors.append(f"chaos-job-{n:02d}: {type(e).__name__}: {e}")
    finally:
        session.close()


def _steady_load(session: kiln.Session, endpoint: str, stop: threading.Event, load: Load) -> None:
    predictor = kiln.Predictor(
        endpoint, session, serializer=JSONSerializer(), deserializer=JSONDeserializer()
    )
    try:
        while not stop.is_set():
            value = load.sent
            load.sent += 1
            started = time.monotonic()
            try:
                answer = predictor.predict([value])
            except MaybeCarriedOut as e:  # the connection broke while it was in flight
                load.failed.append((started, time.monotonic(), str(e)))
                continue
            except KilnError as e:
                load.failed.append((started, time.monotonic(), f"{type(e).__name__}: {e}"))
                continue
            if answer != [value * 2]:
                load.wrong.append(f"{value} → {answer}")
            time.sleep(0.02)
    finally:
        session.close()


def _kill_loop(home: Path, server: RunningServer, rng: random.Random) -> tuple[RunningServer, list[Kill]]:
    kills = []
    url = server.url
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.3, 1.5))
        sent = time.monotonic()
        server.stop(signal.SIGKILL)
        kills.append(Kill(sent, time.monotonic()))
        server = start_server(home)
        assert server.url == url  # every restart comes back on the same address
    return server, kills


def _model_file(session: kiln.Session, uri: str) -> str:
    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(uri))) as archive:
        member = archive.extractfile("weights.txt")
        assert member is not None
        return member.read().decode()


def _log_lines(session: kiln.Session, name: str) -> list[str]:
    lines: list[str] = []
    after = 0
    while page := session.client.training_job_logs(name, after)["Events"]:
        lines += [event["message"] for event in page]
        after = page[-1]["seq"]
    return lines


def _check_job(session: kiln.Session, name: str) -> None:
    description = session.describe_training_job(name)
    assert description["TrainingJobStatus"] == "Completed", (name, description.get("FailureReason"))
    ticks = [line for line in _log_lines(session, name) if " tick " in line]
    assert ticks == [f"{name} tick {i} value={i}" for i in range(TICKS)], name  # none lost, none twice
    values = [m["Value"] for m in session.client.training_job_metrics(name) if m["MetricName"] == "value"]
    assert values == list(range(TICKS)), name
    assert _model_file(session, description["ModelArtifacts"]["S3ModelArtifacts"]) == name


@pytest.fixture
def chaos_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("KILN_HOME", str(home))  # sessions find the server through server.json
    monkeypatch.delenv("KILN_URL", raising=False)
    monkeypatch.setenv("KILN_CLIENT_RETRY_SECONDS", "60")
    yield home
    for process in processes_mentioning(str(home)):
        process.kill()


def test_twenty_kill_9s_lose_and_duplicate_nothing(
    chaos_home: Path, tmp_path: Path, write_script: Any, record_property: Any
) -> None:
    rng = random.Random(16)
    server = start_server(chaos_home)
    session = kiln.Session()
    source = write_script(TRAIN)
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(INFERENCE)
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "code", arcname="code")
    model_uri = session.upload_data(tmp_path / "model.tar.gz", key_prefix="chaos-model")
    kiln.Model(model_uri, sagemaker_session=session).deploy(1, "local", endpoint_name="chaos-endpoint")
    tuner = kiln.HyperparameterTuner(
        _estimator(session, source),
        objective_metric_name="score",
        hyperparameter_ranges={"kind": kiln.CategoricalParameter(KINDS)},
        strategy="Grid",
        max_parallel_jobs=2,
    )
    tuner.fit(job_name="chaos-tuning", wait=False)

    stop = threading.Event()
    load = Load()
    submit_errors: list[str] = []
    workers = [
        threading.Thread(target=_submit_jobs, args=(_connected_session(), source, stop, submit_errors)),
        threading.Thread(target=_steady_load, args=(_connected_session(), "chaos-endpoint", stop, load)),
    ]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    try:
        server, kills = _kill_loop(chaos_home, server, rng)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=120)
    loop_seconds = time.monotonic() - started

    try:
        tuning = TuningClient(session.client)
        wait_until(
            lambda: (
                tuning.describe_tuning_job("chaos-tuning")["HyperParameterTuningJobStatus"] != "InProgress"
            ),
            timeout=END_TIMEOUT,
            interval=0.5,
        )
        jobs = session.client.list_training_jobs(limit=1000)
        wait_until(
            lambda: all(
                j["TrainingJobStatus"] != "InProgress" for j in session.client.list_training_jobs(limit=1000)
            ),
            timeout=END_TIMEOUT,
            interval=0.5,
        )
        names = sorted(j["TrainingJobName"] for j in session.client.list_training_jobs(limit=1000))
        record_property("kills_survived", len(kills))  # the figures, in CI's junit report too
        record_property("training_jobs", len(names))
        record_property("requests_sent", load.sent)
        record_property("requests_failed", len(load.failed))
        print(
            f"\nchaos: {len(kills)} kills survived in {loop_seconds:.0f} s; {len(names)} training jobs "
            f"({JOBS} submitted, {len(KINDS)} trials); {load.sent} requests sent, {len(load.failed)} failed"
        )

        assert submit_errors == []
        submitted = [f"chaos-job-{n:02d}" for n in range(JOBS) if f"chaos-job-{n:02d}" in names]
        assert len(submitted) >= JOBS - 1  # the loop may end before the last one is due
        trials = [n for n in names if n.startswith("chaos-tuning-")]
        assert sorted(submitted + trials) == names  # no job created twice, none from nowhere
        for name in submitted + trials:
            _check_job(session, name)

        described = tuning.describe_tuning_job("chaos-tuning")
        assert described["HyperParameterTuningJobStatus"] == "Completed"
        summaries = tuning.list_training_jobs_for_tuning_job("chaos-tuning")
        assert sorted(s["TunedHyperParameters"]["kind"].strip('"') for s in summaries) == KINDS  # each once
        best = described["BestTrainingJob"]
        assert best["TunedHyperParameters"]["kind"].strip('"') == KINDS[-1]
        assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
            SCORES[KINDS[-1]]
        )

        assert load.wrong == []
        assert load.sent > 100
        for start, end, error in load.failed:  # only what was in flight when a kill landed
            assert any(start <= kill.reaped and end >= kill.sent for kill in kills), error
        instances = [
            p for p in processes_mentioning(str(chaos_home)) if "kiln.runtime.serving" in p.cmdline()
        ]
        assert len(instances) == 1  # restarts re-adopted the instance, never started a second one
        assert processes_mentioning(str(chaos_home / "jobs")) == []  # every host process ended
        assert jobs  # listed while the last ones ran
    finally:
        kiln.Predictor("chaos-endpoint", session).delete_endpoint()
        session.close()
        server.stop()
    wait_until(lambda: not processes_mentioning(str(chaos_home)), timeout=30)  # no orphan left behind
