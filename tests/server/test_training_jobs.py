"""Training jobs end to end through the SDK and the real server: SageMaker scripts run unchanged."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

import kiln
from conftest import ON_EVERY_BACKEND, RunningServer
from kiln.errors import UnexpectedStatusException

pytestmark = ON_EVERY_BACKEND  # PostgreSQL + S3 as well as SQLite + a folder (conftest.py)

SAGEMAKER_SCRIPT = """
import argparse
import json
import os

# Written the way SageMaker's script-mode documentation shows it.
if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--optimizer", type=str, default="sgd")
    parser.add_argument("--model-dir", type=str, default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", type=str, default=os.environ["SM_CHANNEL_TRAIN"])
    parser.add_argument("--test", type=str, default=os.environ["SM_CHANNEL_TEST"])
    parser.add_argument("--output-data-dir", type=str, default=os.environ["SM_OUTPUT_DATA_DIR"])
    args, _ = parser.parse_known_args()

    training_env = json.loads(os.environ["SM_TRAINING_ENV"])
    hosts = json.loads(os.environ["SM_HOSTS"])
    rows = open(os.path.join(args.train, "train.csv")).read().split()
    print(f"epochs={args.epochs} lr={args.learning_rate} optimizer={args.optimizer} rows={len(rows)}")
    for epoch in range(args.epochs):
        print(f"epoch={epoch} loss={1.0 / (epoch + 1):.4f}")
    with open(os.path.join(args.model_dir, "model.json"), "w") as f:
        json.dump({"weights": [1, 2, 3], "hosts": hosts, "hps": training_env["hyperparameters"]}, f)
    with open(os.path.join(args.output_data_dir, "report.txt"), "w") as f:
        f.write("accuracy=0.9")
    print("test files:", sorted(os.listdir(args.test)))
"""


def _read_tar(session: kiln.Session, uri: str) -> dict[str, bytes]:
    data = session.read_artifact(uri)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


@pytest.fixture
def channels(session: kiln.Session, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.csv").write_text("1,2\n3,4\n5,6\n")
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "a.csv").write_text("7,8\n")
    (tmp_path / "test" / "b.csv").write_text("9,10\n")
    return {
        "train": session.upload_data(tmp_path / "train", key_prefix=f"tests/{tmp_path.name}/train"),
        "test": session.upload_data(tmp_path / "test", key_prefix=f"tests/{tmp_path.name}/test"),
    }


def test_a_sagemaker_script_runs_unchanged_and_produces_its_artifacts(
    session: kiln.Session, write_script, channels: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(SAGEMAKER_SCRIPT)
    estimator = kiln.PyTorch(
        entry_point="train.py",
        source_dir=str(source),
        role="arn:aws:iam::111111111111:role/ignored",
        hyperparameters={"epochs": 3, "learning-rate": 0.05, "optimizer": "adam"},
        instance_type="ml.m5.large",
        framework_version="2.1",
        py_version="py310",
        metric_definitions=[{"Name": "train:loss", "Regex": r"loss=([0-9\.]+)"}],
        sagemaker_session=session,
    )
    estimator.fit(channels)

    printed = capsys.readouterr().out
    assert "epochs=3 lr=0.05 optimizer=adam rows=3" in printed
    assert "test files: ['a.csv', 'b.csv']" in printed
    assert "Training - Training image download completed. Training in progress." in printed
    assert "Billable seconds:" in printed
    description = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert description["TrainingJobStatus"] == "Completed"
    assert description["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in description["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    # Hyperparameters are echoed exactly as submitted (JSON-encoded by the SDK), as attach() needs.
    assert description["HyperParameters"]["learning-rate"] == "0.05"
    assert description["HyperParameters"]["optimizer"] == '"adam"'
    assert json.loads(description["HyperParameters"]["sagemaker_program"]) == "train.py"
    assert description["FinalMetricDataList"][0]["MetricName"] == "train:loss"
    assert description["FinalMetricDataList"][0]["Value"] == pytest.approx(1 / 3, abs=1e-4)
    assert description["BillableTimeInSeconds"] >= 1

    model = _read_tar(session, estimator.model_data)
    saved = json.loads(model["model.json"])
    assert saved == {
        "weights": [1, 2, 3],
        "hosts": ["algo-1"],
        "hps": {"epochs": 3, "learning-rate": 0.05, "optimizer": "adam"},
    }
    assert estimator.model_data.endswith(f"/{description['TrainingJobName']}/output/model.tar.gz")
    output = _read_tar(session, description["OutputArtifacts"]["S3OutputArtifacts"])
    assert output == {"report.txt": b"accuracy=0.9"}
    source_uri = json.loads(description["HyperParameters"]["sagemaker_submit_directory"])
    assert source_uri.endswith(f"/{description['TrainingJobName']}/source/sourcedir.tar.gz")

    attached = kiln.PyTorch.attach(description["TrainingJobName"], sagemaker_session=session)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters() == {"epochs": "3", "learning-rate": "0.05", "optimizer": '"adam"'}


def test_a_script_that_hard_codes_opt_ml_paths_runs_in_a_private_view(
    session: kiln.Session, write_script
) -> None:
    source = write_script(
        """
        import os
        with open("/opt/ml/model/weights.txt", "w") as f:
            f.write("hard-coded")
        print("model dir is", os.environ["SM_MODEL_DIR"])
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    description = estimator.latest_training_job.wait(logs=False)  # type: ignore[union-attr]
    if description["TrainingJobStatus"] == "Failed" and "Permission" in description.get("FailureReason", ""):
        pytest.skip("this machine allows no mount namespaces; Kiln then documents SM_* paths only")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    assert _read_tar(session, estimator.model_data) == {"weights.txt": b"hard-coded"}


def test_a_failing_script_fails_the_job_with_the_exception_line(
    session: kiln.Session, write_script, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_script(
        """
        print("about to fail")
        def load():
            raise ValueError("the data file is empty")
        load()
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    with pytest.raises(UnexpectedStatusException) as raised:
        estimator.fit()
    assert "Failed" in str(raised.value)
    description = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"].endswith("ValueError: the data file is empty")
    assert len(description["FailureReason"]) <= 1024
    logs = session.client.training_job_logs(description["TrainingJobName"])["Events"]
    messages = [e["message"] for e in logs]
    assert "about to fail" in messages
    assert any(m.startswith("Traceback (most recent call last)") for m in messages)
    assert any('raise ValueError("the data file is empty")' in m for m in messages)


def test_the_script_can_write_its_own_failure_reason(session: kiln.Session, write_script) -> None:
    source = write_script(
        """
        import os, sys
        with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as f:
            f.write("CustomerError: the learning rate must be positive")
        sys.exit(2)
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    with pytest.raises(UnexpectedStatusException):
        estimator.fit(logs=False)
    description = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert description["FailureReason"] == "CustomerError: the learning rate must be positive"


def test_logs_can_be_followed_while_the_job_runs(session: kiln.Session, write_script) -> None:
    source = write_script(
        """
        import time
        for i in range(30):
            print(f"tick {i}", flush=True)
            time.sleep(0.1)
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(wait=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    seen_while_running = False
    lines = []
    for event in session.client.follow_training_job(name):
        if event["type"] == "log":
            lines.append(event["message"])
            if event["message"] == "tick 0":
                seen_while_running = session.describe_training_job(name)["TrainingJobStatus"] == "InProgress"
        if event["type"] == "end":
            assert event["status"] == "Completed"
    assert seen_while_running
    ticks = [line for line in lines if line.startswith("tick")]
    assert ticks == [f"tick {i}" for i in range(30)]


def test_max_run_stops_the_job_and_keeps_what_it_saved(session: kiln.Session, write_script) -> None:
    source = write_script(
        """
        import os, signal, sys, time
        def on_term(*_):
            open(os.path.join(os.environ["SM_MODEL_DIR"], "partial.txt"), "w").write("saved on SIGTERM")
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        print("training forever", flush=True)
        while True:
            time.sleep(0.1)
        """
    )
    estimator = kiln.Estimator("train.py", source_dir=str(source), max_run=1, sagemaker_session=session)
    with pytest.raises(UnexpectedStatusException):
        estimator.fit(logs=False)
    description = estimator.latest_training_job.describe()  # type: ignore[union-attr]
    assert description["TrainingJobStatus"] == "Stopped"
    assert description["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert _read_tar(session, estimator.model_data) == {"partial.txt": b"saved on SIGTERM"}


def test_unchanged_environment_variables_reach_the_script_but_not_the_api_token(
    server: RunningServer, session: kiln.Session, write_script
) -> None:
    source = write_script(
        """
        import os
        print("custom", os.environ.get("MY_SETTING"), "token", os.environ.get("KILN_API_TOKEN"))
        """
    )
    estimator = kiln.Estimator(
        "train.py", source_dir=str(source), environment={"MY_SETTING": "on"}, sagemaker_session=session
    )
    estimator.fit(logs=False)
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    messages = [e["message"] for e in session.client.training_job_logs(name)["Events"]]
    assert "custom on token None" in messages


def test_jobs_are_listed_newest_first_and_filtered(session: kiln.Session, write_script) -> None:
    source = write_script('print("quick")')
    names = []
    for _ in range(2):
        estimator = kiln.Estimator(
            "train.py", source_dir=str(source), base_job_name="listing", sagemaker_session=session
        )
        estimator.fit(logs=False)
        names.append(estimator.latest_training_job.name)  # type: ignore[union-attr]
    listed = [j["TrainingJobName"] for j in session.client.list_training_jobs(name_contains="listing")]
    assert listed[:2] == names[::-1]
    completed = session.client.list_training_jobs(status="Completed", name_contains="listing")
    assert {j["TrainingJobName"] for j in completed} >= set(names)
