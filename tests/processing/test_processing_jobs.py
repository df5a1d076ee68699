"""Processing jobs on the shared host lifecycle: sharding over two instances, Continuous uploads while
the script runs, stop, a failing script's reason, refusals, and the "processing" account limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processing_support import (
    processing_request,
    s3_input,
    s3_output,
    unique,
    upload_code,
    wait_for_end,
)
from tests.capacity.capacity_support import capacity_server

import kiln
from conftest import wait_until
from kiln.errors import ResourceLimitExceeded, ValidationError

WHAT_I_GOT = """
    import json, os
    host = json.load(open("/opt/ml/config/resourceconfig.json"))["current_host"]
    got = {
        name: sorted(os.listdir(f"/opt/ml/processing/input/{name}"))
        for name in ("shards", "everything")
    }
    with open(f"/opt/ml/processing/output/got/{host}.json", "w") as out:
        json.dump(got, out)
"""


def test_sharded_by_s3_key_over_two_instances(session: kiln.Session) -> None:
    job = unique("sharded")
    bucket = session.bucket_uri()
    for index in range(4):
        session.upload_bytes(f"{index}\n".encode(), f"{bucket}/{job}/data/part-{index}.csv")
    code = upload_code(session, job, WHAT_I_GOT)
    request = processing_request(
        job,
        code,
        count=2,
        inputs=[
            s3_input("shards", f"{bucket}/{job}/data", "/opt/ml/processing/input/shards", "ShardedByS3Key"),
            s3_input("everything", f"{bucket}/{job}/data", "/opt/ml/processing/input/everything"),
        ],
        outputs=[s3_output("got", f"{bucket}/{job}/got", "/opt/ml/processing/output/got")],
    )
    session.client.create_processing_job(request)
    described = wait_for_end(session, job)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert [h["Host"] for h in described["Hosts"]] == ["algo-1", "algo-2"]

    got = {
        host: json.loads(session.read_artifact(f"{bucket}/{job}/got/{host}.json"))
        for host in ("algo-1", "algo-2")
    }
    every = [f"part-{i}.csv" for i in range(4)]
    assert got["algo-1"]["everything"] == got["algo-2"]["everything"] == every  # FullyReplicated
    shards = got["algo-1"]["shards"], got["algo-2"]["shards"]
    assert sorted([*shards[0], *shards[1]]) == every  # ShardedByS3Key: disjoint, together complete
    assert len(shards[0]) == len(shards[1]) == 2


def test_continuous_output_is_uploaded_while_the_script_runs_and_a_stop_ends_it(
    session: kiln.Session,
) -> None:
    job = unique("continuous")
    bucket = session.bucket_uri()
    code = upload_code(
        session,
        job,
        """
        import time
        open("/opt/ml/processing/output/progress/step-1.txt", "w").write("one")
        print("wrote step 1", flush=True)
        time.sleep(120)
        """,
    )
    request = processing_request(
        job,
        code,
        outputs=[
            s3_output(
                "progress", f"{bucket}/{job}/progress", "/opt/ml/processing/output/progress", "Continuous"
            )
        ],
    )
    session.client.create_processing_job(request)

    def uploaded_now() -> bool:
        try:
            listed = session.list_artifacts(f"{bucket}/{job}/progress")
        except kiln.errors.NotFound:
            return False  # nothing uploaded yet
        return any(a["Uri"].endswith("step-1.txt") for a in listed)

    uploaded = wait_until(
        uploaded_now,
        timeout=30,
        interval=0.2,
    )
    assert uploaded
    assert session.client.describe_processing_job(job)["ProcessingJobStatus"] == "InProgress"
    assert session.read_artifact(f"{bucket}/{job}/progress/step-1.txt") == b"one"

    assert session.client.stop_processing_job(job)["ProcessingJobStatus"] == "Stopping"
    described = wait_for_end(session, job, timeout=60)
    assert described["ProcessingJobStatus"] == "Stopped"
    with pytest.raises(kiln.errors.Conflict, match="already ended"):
        session.client.stop_processing_job(job)


def test_a_failing_script_fails_the_job_with_its_reason(session: kiln.Session) -> None:
    job = unique("failing")
    code = upload_code(
        session,
        job,
        """
        open("/opt/ml/output/message", "w").write("rows checked: 6")
        raise ValueError("bad row 7: expected 3 columns")
        """,
    )
    session.client.create_processing_job(processing_request(job, code))
    described = wait_for_end(session, job)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "ValueError: bad row 7: expected 3 columns" in described["FailureReason"]
    assert described["FailureReason"].startswith("AlgorithmError")
    assert described["ExitMessage"] == "rows checked: 6"
    lines = [e["message"] for e in session.client.processing_job_logs(job)["Events"]]
    assert any("bad row 7" in line for line in lines)


def test_requests_kiln_cannot_run_are_refused_naming_the_field(session: kiln.Session) -> None:
    job = unique("refused")
    code = upload_code(session, job, "print('never runs')")
    outside = processing_request(job, code)
    outside["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/tmp/code"
    with pytest.raises(
        ValidationError, match=r"LocalPath '/tmp/code' must be an absolute path under /opt/ml/processing/"
    ):
        session.client.create_processing_job(outside)
    no_command = processing_request(job, code)
    del no_command["AppSpecification"]["ContainerEntrypoint"]
    with pytest.raises(ValidationError, match="ContainerEntrypoint is required on Kiln"):
        session.client.create_processing_job(no_command)
    typo = {**processing_request(job, code), "ProcessingInput": []}
    with pytest.raises(ValidationError, match="CreateProcessingJob has no member 'ProcessingInput'"):
        session.client.create_processing_job(typo)
    missing = processing_request(job, f"{session.bucket_uri()}/{job}/nothing-here.py")
    with pytest.raises(ValidationError, match="does not exist; upload the data first"):
        session.client.create_processing_job(missing)
    with pytest.raises(kiln.errors.NotFound, match="kiln processing-jobs list"):
        session.client.describe_processing_job(job)


def test_processing_has_its_own_account_limits(tmp_path: Path) -> None:
    server = capacity_server(tmp_path / "home", '[limits.processing]\n"ml.m5.xlarge" = 1\n')
    try:
        session = server.session()
        job = unique("limited")
        code = upload_code(session, job, "print('hi')")
        request = processing_request(job, code, count=2)
        request["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "ml.m5.xlarge"
        with pytest.raises(ResourceLimitExceeded, match=r"ml\.m5\.xlarge for processing job usage"):
            session.client.create_processing_job(request)
        session.close()
    finally:
        server.stop()


def test_max_runtime_stops_the_job(session: kiln.Session) -> None:
    job = unique("max-runtime")
    code = upload_code(session, job, "import time\nprint('working', flush=True)\ntime.sleep(120)\n")
    session.client.create_processing_job(processing_request(job, code, max_runtime=2))
    described = wait_for_end(session, job, timeout=60)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert described["StoppingCondition"] == {"MaxRuntimeInSeconds": 2}
