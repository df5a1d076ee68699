"""Batch transform through the REST API, on a real server, with a scikit-learn model on the default handlers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.transform.transform_support import create_linear_model, job_request, predict, wait_for_job

import kiln


@pytest.fixture(scope="module")
def model(server, tmp_path_factory: pytest.TempPathFactory) -> str:  # type: ignore[no-untyped-def]
    session = server.session()
    try:
        return create_linear_model(session, tmp_path_factory.mktemp("linear"))
    finally:
        session.close()


def _rows(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 100, size=(count, 3)).astype(float)


def test_three_objects_two_instances_join_and_filters_keep_every_line_in_order(
    session: kiln.Session, model: str
) -> None:
    rng = np.random.default_rng(1)
    bucket = session.default_bucket()
    inputs = {}
    for part in ("a", "b", "c"):
        rows = _rows(rng, 10_000)
        ids = [f"{part}{i}" for i in range(len(rows))]
        text = "".join(f"{i},{int(r[0])},{int(r[1])},{int(r[2])}\n" for i, r in zip(ids, rows, strict=True))
        session.client.upload(text.encode(), f"s3://{bucket}/transform-in/joined/part-{part}.csv")
        inputs[part] = (ids, rows)
    client = session.client
    request = job_request(
        "joined-filters",
        model,
        f"s3://{bucket}/transform-in/joined/part-",
        f"s3://{bucket}/transform-out/joined",
        TransformResources={"InstanceType": "local", "InstanceCount": 2},
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        MaxConcurrentTransforms=2,
        DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
    )
    client.create_transform_job(request)
    job = wait_for_job(client, "joined-filters")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["Progress"] == {"ObjectsTotal": 3, "ObjectsDone": 3, "RecordsDone": 30_000}
    assert job["BillableTimeInSeconds"] >= 2
    for part, (ids, rows) in inputs.items():
        out = client.download(f"s3://{bucket}/transform-out/joined/part-{part}.csv.out").decode()
        lines = out.split("\n")
        assert lines[-1] == ""  # every line ends with a newline
        assert len(lines) == 10_001  # one line per input line
        got_ids = [line.split(",")[0] for line in lines[:-1]]
        assert got_ids == ids
        got = np.array([float(line.split(",")[1]) for line in lines[:-1]])
        np.testing.assert_allclose(got, predict(rows))
    streams = client.transform_job_logs("joined-filters")
    assert [s["Stream"] for s in streams] == [
        "joined-filters/job",
        "joined-filters/instance-1",
        "joined-filters/instance-2",
    ]
    served = " ".join(line for line in streams[0]["Lines"] if "records ->" in line)
    assert "instance-1" in served  # the objects were split between the instances
    assert "instance-2" in served


def test_a_malformed_line_fails_the_job_naming_object_and_line_and_keeps_earlier_outputs(
    session: kiln.Session, model: str
) -> None:
    bucket = session.default_bucket()
    good = "".join(f"{i},{i + 1},{i + 2}\n" for i in range(3000))
    bad_lines = [f"{i},{i + 1},{i + 2}" for i in range(3000)]
    bad_lines[2344] = "1,2,three"
    session.client.upload(good.encode(), f"s3://{bucket}/transform-in/bad/1-good.csv")
    session.client.upload(("\n".join(bad_lines) + "\n").encode(), f"s3://{bucket}/transform-in/bad/2-bad.csv")
    client = session.client
    client.create_transform_job(
        job_request("malformed", model, f"s3://{bucket}/transform-in/bad", f"s3://{bucket}/transform-out/bad")
    )
    job = wait_for_job(client, "malformed")
    assert job["TransformJobStatus"] == "Failed"
    reason = job["FailureReason"]
    assert "2-bad.csv, line 2345" in reason, reason
    assert "three" in reason
    assert client.download(f"s3://{bucket}/transform-out/bad/1-good.csv.out").count(b"\n") == 3000
    listed = [json.dumps(a) for a in client.list_artifacts(f"s3://{bucket}/transform-out/bad")]
    assert any("1-good.csv.out" in entry for entry in listed)
    assert not any("2-bad" in uri for uri in listed)


def test_single_record_and_split_none(session: kiln.Session, model: str) -> None:
    bucket = session.default_bucket()
    rows = _rows(np.random.default_rng(2), 40)
    text = "".join(f"{int(r[0])},{int(r[1])},{int(r[2])}\n" for r in rows)
    session.client.upload(text.encode(), f"s3://{bucket}/transform-in/single/data.csv")
    client = session.client
    for name, split, strategy in (
        ("single-record", "Line", "SingleRecord"),
        ("split-none", "None", "MultiRecord"),
    ):
        client.create_transform_job(
            job_request(
                name,
                model,
                f"s3://{bucket}/transform-in/single/",
                f"s3://{bucket}/transform-out/{name}",
                TransformInput={"SplitType": split},
                BatchStrategy=strategy,
            )
        )
        job = wait_for_job(client, name)
        assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
        out = client.download(f"s3://{bucket}/transform-out/{name}/data.csv.out").decode()
        np.testing.assert_allclose([float(v) for v in out.split()], predict(rows))


def test_json_lines_with_an_input_filter_and_a_join(session: kiln.Session, model: str) -> None:
    bucket = session.default_bucket()
    rows = _rows(np.random.default_rng(3), 500)
    records = [{"id": i, "features": [int(v) for v in r]} for i, r in enumerate(rows)]
    body = "".join(json.dumps(r) + "\n" for r in records)
    session.client.upload(body.encode(), f"s3://{bucket}/transform-in/jsonl/records.jsonl")
    client = session.client
    client.create_transform_job(
        job_request(
            "json-lines",
            model,
            f"s3://{bucket}/transform-in/jsonl",
            f"s3://{bucket}/transform-out/jsonl",
            TransformInput={"ContentType": "application/jsonlines"},
            TransformOutput={"Accept": "application/jsonlines"},
            MaxPayloadInMB=1,
            DataProcessing={
                "InputFilter": "$.features",
                "JoinSource": "Input",
                "OutputFilter": "$['id','SageMakerOutput']",
            },
        )
    )
    job = wait_for_job(client, "json-lines")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = client.download(f"s3://{bucket}/transform-out/jsonl/records.jsonl.out").decode().splitlines()
    assert [json.loads(line)["id"] for line in out] == list(range(500))
    np.testing.assert_allclose([json.loads(line)["SageMakerOutput"] for line in out], predict(rows))


def test_stop_ends_the_job_stopped_and_its_instances(
    session: kiln.Session, model: str, tmp_path: Path
) -> None:
    bucket = session.default_bucket()
    text = "".join(f"{i},{i},{i}\n" for i in range(20_000))
    session.client.upload(text.encode(), f"s3://{bucket}/transform-in/stop/data.csv")
    client = session.client
    client.create_transform_job(
        job_request(
            "stopped",
            model,
            f"s3://{bucket}/transform-in/stop",
            f"s3://{bucket}/transform-out/stop",
            BatchStrategy="SingleRecord",
        )
    )
    from tests.conftest import wait_until

    wait_until(lambda: client.describe_transform_job("stopped").get("TransformStartTime"), timeout=60)
    assert client.stop_transform_job("stopped")["TransformJobStatus"] == "Stopping"
    job = wait_for_job(client, "stopped")
    assert job["TransformJobStatus"] == "Stopped"
    assert [j["TransformJobName"] for j in client.list_transform_jobs(status="Stopped")] == ["stopped"]


def test_bad_requests_are_refused_at_once(session: kiln.Session, model: str) -> None:
    client = session.client
    with pytest.raises(kiln.errors.ValidationError, match="OutputFilter"):
        client.create_transform_job(
            job_request(
                "bad-filter", model, "s3://b/in", "s3://b/out", DataProcessing={"OutputFilter": "$[["}
            )
        )
    with pytest.raises(kiln.errors.ValidationError, match="MaxConcurrentTransforms × MaxPayloadInMB"):
        client.create_transform_job(
            job_request(
                "too-much", model, "s3://b/in", "s3://b/out", MaxConcurrentTransforms=20, MaxPayloadInMB=6
            )
        )
    with pytest.raises(kiln.errors.NotFound):
        client.create_transform_job(job_request("no-model", "missing-model", "s3://b/in", "s3://b/out"))


def test_a_manifest_names_the_objects_and_may_not_lead_out_of_the_store(
    session: kiln.Session, model: str
) -> None:
    bucket = session.default_bucket()
    client = session.client
    client.upload(b"1,2,3\n", f"s3://{bucket}/transform-in/manifest/x/one.csv")
    client.upload(b"4,5,6\n", f"s3://{bucket}/transform-in/manifest/x/two.csv")
    client.upload(b"7,8,9\n", f"s3://{bucket}/transform-in/manifest/x/skipped.csv")
    manifest = [{"prefix": f"s3://{bucket}/transform-in/manifest/x/"}, "one.csv", "two.csv"]
    client.upload(json.dumps(manifest).encode(), f"s3://{bucket}/transform-in/manifest/list.json")
    source = {
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "ManifestFile",
                "S3Uri": f"s3://{bucket}/transform-in/manifest/list.json",
            }
        }
    }
    client.create_transform_job(
        job_request(
            "manifest", model, "unused", f"s3://{bucket}/transform-out/manifest", TransformInput=source
        )
    )
    job = wait_for_job(client, "manifest")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert client.download(f"s3://{bucket}/transform-out/manifest/one.csv.out") == b"14.0\n"
    assert client.download(f"s3://{bucket}/transform-out/manifest/two.csv.out") == b"32.0\n"
    listed = json.dumps(client.list_artifacts(f"s3://{bucket}/transform-out/manifest"))
    assert "skipped" not in listed

    escaping = [{"prefix": "/etc/"}, "passwd"]
    client.upload(json.dumps(escaping).encode(), f"s3://{bucket}/transform-in/manifest/escape.json")
    source["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://{bucket}/transform-in/manifest/escape.json"
    client.create_transform_job(
        job_request(
            "manifest-escape", model, "unused", f"s3://{bucket}/transform-out/escape", TransformInput=source
        )
    )
    job = wait_for_job(client, "manifest-escape")
    assert job["TransformJobStatus"] == "Failed"
    assert "/etc/passwd' is outside this server's artifact store" in job["FailureReason"]
