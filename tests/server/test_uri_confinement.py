"""One confinement rule for every URI a request names: refused at submission, the same way whether the
path exists or not; ``s3://<bucket>/<key>`` names the local store's ``<bucket>/<key>``."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kiln
from conftest import RunningServer
from kiln.errors import ValidationError

OUTSIDE = "outside this server's artifact store"
Change = Callable[[dict[str, Any]], None]


def _channel(request: dict[str, Any], uri: str) -> None:
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = uri


def _job_count(session: kiln.Session) -> int:
    return len(session.client.list_training_jobs(limit=1000))


@pytest.fixture
def request_for(session: kiln.Session, write_script, tmp_path: Path) -> Callable[[str], dict[str, Any]]:
    source = write_script('import os; print(sorted(os.listdir(os.environ["SM_CHANNEL_TRAINING"])))')
    data = session.upload_data(source / "train.py", key_prefix=f"confinement/{tmp_path.name}")
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    counter = iter(range(1000))

    def build(instance_type: str = "ml.m5.large") -> dict[str, Any]:
        name = f"conf-{tmp_path.name[-16:].replace('_', '-')}-{next(counter)}"
        request = json.loads(json.dumps(estimator._training_request(name, data)))
        request["ResourceConfig"]["InstanceType"] = instance_type
        return request

    return build


def _refused(session: kiln.Session, request: dict[str, Any], *fragments: str) -> str:
    before = _job_count(session)
    with pytest.raises(ValidationError) as raised:
        session.client.create_training_job(request)
    for fragment in fragments:
        assert fragment in str(raised.value), str(raised.value)
    assert _job_count(session) == before
    return str(raised.value)


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda r: _channel(r, "file:///etc/ssh"), ["channel 'training'", "'file:///etc/ssh'", OUTSIDE]),
        (lambda r: _channel(r, "/etc/ssh"), ["'/etc/ssh'", OUTSIDE]),
        (
            lambda r: r["OutputDataConfig"].update(S3OutputPath="file:///anywhere"),
            ["OutputDataConfig.S3OutputPath", "'file:///anywhere'", OUTSIDE],
        ),
        (lambda r: _channel(r, "s3://kiln/data/../../../etc"), ["may not contain '..'"]),
        (
            lambda r: r["OutputDataConfig"].update(
                S3OutputPath=r["OutputDataConfig"]["S3OutputPath"] + "/.."
            ),
            ["OutputDataConfig.S3OutputPath", "may not contain '..'"],
        ),
        (
            lambda r: r.update(CheckpointConfig={"S3Uri": "file:///tmp/../etc"}),
            ["CheckpointConfig.S3Uri", "may not contain '..'"],
        ),
        (
            lambda r: r.update(CheckpointConfig={"S3Uri": "file:///var/tmp/ckpt"}),
            ["CheckpointConfig.S3Uri", OUTSIDE],
        ),
        (
            lambda r: r.update(TensorBoardOutputConfig={"S3OutputPath": "file:///var/tmp/tb"}),
            ["TensorBoardOutputConfig.S3OutputPath", OUTSIDE],
        ),
        (
            lambda r: r["HyperParameters"].update(sagemaker_submit_directory='"file:///etc/src.tar.gz"'),
            ["sagemaker_submit_directory", OUTSIDE],
        ),
    ],
    ids=[
        "channel-etc",
        "channel-plain",
        "output",
        "channel-dotdot",
        "output-dotdot",
        "checkpoint-dotdot",
        "checkpoint",
        "tensorboard",
        "code",
    ],
)
def test_job_uris_outside_the_store_are_refused_at_submission(
    session: kiln.Session, request_for: Callable[[str], dict[str, Any]], change: Change, fragments: list[str]
) -> None:
    request = request_for("ml.m5.large")
    change(request)
    _refused(session, request, *fragments)


def test_refusals_do_not_say_whether_a_server_path_exists(
    session: kiln.Session, request_for: Callable[[str], dict[str, Any]]
) -> None:
    messages = []
    for uri in ("file:///etc/passwd", "file:///etc/no-such-file-kiln"):
        request = request_for("ml.m5.large")
        _channel(request, uri)
        messages.append(_refused(session, request, OUTSIDE).replace(uri, "<uri>"))
    assert messages[0] == messages[1]


def test_model_data_on_the_servers_disk_is_refused(session: kiln.Session) -> None:
    for url in ("file:///etc/passwd", "file:///etc/no-such.tar.gz", "s3://kiln/../../etc/x.tar.gz"):
        with pytest.raises(ValidationError, match=r"ModelDataUrl .*(outside this server's|may not contain)"):
            session.client.create_model({"ModelName": "confined", "PrimaryContainer": {"ModelDataUrl": url}})


def test_s3_uris_of_the_default_bucket_run_a_job_and_read_as_s3(
    session: kiln.Session, request_for: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    bucket = session.default_bucket()
    prefix = f"s3://{bucket}/DEMO-{tmp_path.name}"
    session.upload_bytes(b"1,2\n", f"{prefix}/train/a.csv")
    request = request_for("ml.m5.large")
    _channel(request, f"{prefix}/train")
    request["OutputDataConfig"]["S3OutputPath"] = prefix

    session.client.create_training_job(request)
    job = session.wait_for_job(request["TrainingJobName"])

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model == f"{prefix}/{request['TrainingJobName']}/output/model.tar.gz"
    assert job["OutputDataConfig"]["S3OutputPath"] == prefix
    assert session.read_artifact(model)[:2] == b"\x1f\x8b"  # a gzip archive, read back through s3://
    created = session.client.create_model(
        {"ModelName": f"s3-{request['TrainingJobName']}", "PrimaryContainer": {"ModelDataUrl": model}}
    )
    assert created["ModelName"].startswith("s3-")


def test_local_mode_writes_a_file_output_path_where_it_says(
    session: kiln.Session, request_for: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    output = tmp_path / "local-output"
    request = request_for("local")
    request["OutputDataConfig"]["S3OutputPath"] = output.as_uri()

    session.client.create_training_job(request)
    job = session.wait_for_job(request["TrainingJobName"])

    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert (output / request["TrainingJobName"] / "output" / "model.tar.gz").is_file()


def test_a_dangling_symlink_in_a_channel_fails_the_job_naming_it(
    session: kiln.Session, server: RunningServer, request_for: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    server.needs_local_store("a symbolic link is a file system's; S3 has none")
    folder = server.home / "artifacts" / "kiln" / f"dangling-{tmp_path.name}"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text("1\n")
    (folder / "broken.csv").symlink_to(tmp_path / "gone.csv")
    request = request_for("ml.m5.large")
    _channel(request, f"s3://kiln/dangling-{tmp_path.name}")

    session.client.create_training_job(request)
    job = session.wait_for_job(request["TrainingJobName"])

    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: channel 'training': entry 'broken.csv'")
    assert "InternalServerError" not in job["FailureReason"]


def test_a_dot_dot_entry_in_the_source_archive_is_refused_naming_it(
    session: kiln.Session,
    server: RunningServer,
    request_for: Callable[[str], dict[str, Any]],
    tmp_path: Path,
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("train.py", b"print('hi')\n"), ("../escaped.py", b"x = 1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    code = session.upload_bytes(
        buffer.getvalue(), f"s3://{session.default_bucket()}/evil-src-{tmp_path.name}/sourcedir.tar.gz"
    )
    request = request_for("ml.m5.large")
    request["HyperParameters"]["sagemaker_submit_directory"] = json.dumps(code)

    if server.backend == "local":  # read in place: refused before the job exists
        message = _refused(session, request, "'../escaped.py'", "outside the code folder")
    else:  # an S3 archive is read when the job starts, and the job fails naming the entry
        session.client.create_training_job(request)
        message = session.wait_for_job(request["TrainingJobName"])["FailureReason"]
        assert "'../escaped.py'" in message, message
        assert "outside the code folder" in message, message
    assert code in message
