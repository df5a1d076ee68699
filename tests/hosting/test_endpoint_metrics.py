"""Endpoint metrics: counted in memory per 10-second period, stored, read back per variant and period."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from kiln.errors import NotFound, ValidationError
from kiln.metadata import Database, hosting
from kiln.metadata.endpoint_metrics import list_metric_periods
from kiln.records import utcnow
from kiln.services.endpoint_metrics import EndpointMetrics
from kiln.services.invocation_metrics import GRACE_SECONDS, PERIOD_SECONDS, InvocationMetrics
from kiln.services.latency_histogram import BOUNDS, bucket_of, merge, percentile


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    database.migrate()
    hosting.insert_endpoint(
        database, "ep", "ep", {"AllTraffic": 1.0, "Canary": 0.0}, {"AllTraffic": 2}, utcnow()
    )
    yield database
    database.dispose()


def test_percentiles_from_the_histogram_are_within_five_percent_at_every_scale() -> None:
    rng = random.Random(7)
    for scale in (50.0, 2_000.0, 300_000.0, 20_000_000.0):
        values = sorted(rng.lognormvariate(0, 0.6) * scale for _ in range(5_000))
        histogram: dict[int, int] = {}
        for value in values:
            histogram[bucket_of(value)] = histogram.get(bucket_of(value), 0) + 1
        for q in (0.5, 0.9, 0.99):
            exact = values[int(q * len(values)) - 1]
            estimate = percentile(histogram, q)
            assert estimate is not None
            assert abs(estimate - exact) / exact < 0.05, (scale, q, estimate, exact)
    assert percentile({}, 0.5) is None
    assert bucket_of(BOUNDS[-1] * 10) == len(BOUNDS)  # past the last bound: the last bucket
    assert merge([{1: 2, 5: 1}, {5: 3}]) == {1: 2, 5: 4}


def test_the_recorder_hands_over_a_period_only_after_it_ended() -> None:
    recorder = InvocationMetrics()
    recorder.record("ep", "AllTraffic", 2, 200, 1_000.0, 1_300.0)
    recorder.record("ep", "AllTraffic", 2, 415, 200.0, 260.0)
    recorder.record("ep", "AllTraffic", 1, 503, None, 90.0)  # no model reached
    now = datetime.now(timezone.utc).timestamp()
    assert recorder.take_ended(now) == []  # the current period is still being written
    ended = now // PERIOD_SECONDS * PERIOD_SECONDS + PERIOD_SECONDS + GRACE_SECONDS + 0.01
    [period] = recorder.take_ended(ended)
    assert (period.invocations, period.errors_4xx, period.errors_5xx, period.instances) == (3, 1, 1, 2)
    assert sum(period.model_latency.values()) == 2  # the 503 reached no model
    assert period.model_latency_sum_us == pytest.approx(1_200.0)
    assert period.overhead_latency_sum_us == pytest.approx(300.0 + 60.0 + 90.0)
    assert recorder.take_all() == []


def test_stored_periods_read_back_per_variant_at_ten_seconds_and_one_minute(db: Database) -> None:
    metrics = EndpointMetrics(db, retention_seconds=3600)
    assert metrics.recorder is not None
    recorder = metrics.recorder
    start = int(datetime.now(timezone.utc).timestamp()) // 60 * 60 - 120  # a whole minute, 2 minutes ago
    for offset, latencies in ((0, [1_000.0] * 9 + [50_000.0]), (10, [2_000.0] * 5), (60, [3_000.0])):
        for latency in latencies:
            _record_at(recorder, start + offset, latency)
    _record_at(recorder, start, 500.0, variant="Canary", status=500)
    assert metrics.flush(now=start + 200) == 4
    # A period stored in two parts (e.g. across a server restart) adds up.
    _record_at(recorder, start + 60, 3_000.0)
    assert metrics.flush(now=start + 200) == 1

    since, _until, variants = metrics.query("ep", 10, datetime.fromtimestamp(start, timezone.utc))
    assert since == start
    assert [v.variant for v in variants] == ["AllTraffic", "Canary"]
    first = variants[0].datapoints[0]
    assert first.invocations == 10
    assert first.invocations_per_instance == pytest.approx(5.0)  # two instances
    assert first.model_latency is not None
    assert first.model_latency.percentiles["p50"] == pytest.approx(1_000.0, rel=0.05)
    assert first.model_latency.percentiles["p99"] == pytest.approx(50_000.0, rel=0.05)
    assert first.model_latency.average == pytest.approx(5_900.0)
    assert [p.invocations for p in variants[0].datapoints] == [10, 5, 2]
    assert variants[1].datapoints[0].errors_5xx == 1

    _, _, minutes = metrics.query("ep", 60, datetime.fromtimestamp(start, timezone.utc), variant="AllTraffic")
    assert [v.variant for v in minutes] == ["AllTraffic"]
    assert [p.invocations for p in minutes[0].datapoints] == [15, 2]
    assert [p.timestamp.timestamp() for p in minutes[0].datapoints] == [start, start + 60]
    assert minutes[0].datapoints[0].invocations_per_instance == pytest.approx(7.5)

    assert metrics.prune(now=start + 3600 + 30) == 3  # the three periods older than an hour
    assert [p.start for p in list_metric_periods(db, "ep", 0, 2**40)] == [start + 60]


def test_queries_that_cannot_be_answered_say_why(db: Database) -> None:
    metrics = EndpointMetrics(db, retention_seconds=3600)
    with pytest.raises(ValidationError, match="Period 30 is not valid"):
        metrics.query("ep", 30)
    with pytest.raises(ValidationError, match="more than 1440"):
        metrics.query("ep", 10, datetime(2026, 1, 1, tzinfo=timezone.utc))
    now = datetime.now(timezone.utc)
    with pytest.raises(ValidationError, match="is not before EndTime"):
        metrics.query("ep", 60, now, now - timedelta(hours=1))
    with pytest.raises(NotFound, match="nope"):
        metrics.query("nope")
    _, _, variants = metrics.query("ep")  # nothing counted yet: every variant, no datapoints
    assert [(v.variant, v.datapoints) for v in variants] == [("AllTraffic", ()), ("Canary", ())]


def test_metrics_switched_off_count_nothing(db: Database) -> None:
    metrics = EndpointMetrics(db, retention_seconds=3600, enabled=False)
    assert metrics.recorder is None
    assert metrics.flush(everything=True) == 0


def _record_at(
    recorder: InvocationMetrics, start: int, latency: float, variant: str = "AllTraffic", status: int = 200
) -> None:
    """``record`` with the clock at ``start``: the period is chosen from the time of the call."""
    from unittest import mock

    with mock.patch("kiln.services.invocation_metrics.time.time", return_value=start + 0.5):
        recorder.record("ep", variant, 2 if variant == "AllTraffic" else 1, status, latency, latency + 100.0)


def test_a_live_endpoint_reports_its_invocations(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Through the real server: requests and a refused one show up in the API and the CLI."""
    pytest.importorskip("torch")
    from hosting_fixtures import torchscript_model_bytes, upload_model

    import kiln
    from conftest import wait_until

    session = server.session()
    uri = upload_model(session, tmp_path / "m", {"model.pt": torchscript_model_bytes(tmp_path / "build")})
    predictor = kiln.PyTorchModel(uri, sagemaker_session=session).deploy(instance_type="local")
    name = predictor.endpoint_name
    try:
        for _ in range(5):
            predictor.predict(np.zeros((1, 28, 28), dtype=np.float32))
        refused = session.client._http.post(
            f"/endpoints/{name}/invocations", content=b"x", headers={"Content-Type": "application/x-nope"}
        )
        assert refused.status_code == 415

        def counted() -> dict[str, int] | None:
            answer = session.client.endpoint_metrics(name, period=10)
            points = answer["Variants"][0]["Datapoints"]
            totals = {
                "invocations": sum(p["Invocations"] for p in points),
                "4xx": sum(p["Invocation4XXErrors"] for p in points),
            }
            return totals if totals["invocations"] >= 6 else None

        totals = wait_until(counted, timeout=30)
        assert totals == {"invocations": 6, "4xx": 1}
        answer = session.client.endpoint_metrics(name, period=60)
        point = answer["Variants"][0]["Datapoints"][-1]
        assert point["ModelLatency"]["p50"] > 0
        assert point["OverheadLatency"]["p99"] > 0
        assert answer["Units"]["ModelLatency"] == "Microseconds"
        result = _cli(server, "endpoints", "metrics", name, "--period", "10", "--json")
        assert sum(p["Invocations"] for p in json.loads(result.stdout)["Variants"][0]["Datapoints"]) == 6
        table = _cli(server, "endpoints", "metrics", name, "--since", "15m")
        assert "Invocations" in table.stdout
        assert "AllTraffic" in table.stdout
        wrong = _cli(server, "endpoints", "metrics", name, "--since", "yesterday", check=False)
        assert wrong.returncode != 0
        assert "--since 'yesterday'" in wrong.stderr
    finally:
        predictor.delete_endpoint()


def _cli(server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = server.env() | {"COLUMNS": "200"}  # a table as wide as its columns
    result = subprocess.run(
        [sys.executable, "-m", "kiln", *args], env=env, capture_output=True, text=True, timeout=60
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_a_stopping_server_stores_the_periods_it_counted(tmp_path: Path) -> None:
    """SIGTERM mid-period: what was counted is stored on the way out and read back after a restart."""
    pytest.importorskip("torch")
    from hosting_fixtures import torchscript_model_bytes, upload_model

    import kiln
    from conftest import start_server, wait_until

    home = tmp_path / "home"
    server = start_server(home)
    try:
        session = server.session()
        uri = upload_model(session, tmp_path / "m", {"model.pt": torchscript_model_bytes(tmp_path / "build")})
        predictor = kiln.PyTorchModel(uri, sagemaker_session=session).deploy(endpoint_name="kept-metrics")
        wait_until(lambda: int(datetime.now(timezone.utc).timestamp()) % PERIOD_SECONDS < 6, timeout=12)
        for _ in range(3):
            predictor.predict(np.zeros((1, 28, 28), dtype=np.float32))
        server.stop()  # within the same 10-second period: nothing was flushed yet
        server = start_server(home)
        answer = server.client().endpoint_metrics("kept-metrics", period=60)
        assert sum(p["Invocations"] for p in answer["Variants"][0]["Datapoints"]) == 3
        server.client().delete_endpoint("kept-metrics")
    finally:
        server.stop()
