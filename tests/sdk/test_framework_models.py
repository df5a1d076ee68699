"""Framework estimators serve their training script: create_model() reuses the job's code under a fresh
name; an attached estimator does the same from the uploaded archive; Estimator-functions scripts don't."""

from __future__ import annotations

import io
import tarfile
import time

import kiln
from kiln.sdk.source_code import pack_source

TRAIN = """
import os
def model_fn(model_dir):
    return "served by train.py"
if __name__ == "__main__":
    open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w").write("weights")
"""
ESTIMATOR_FUNCTIONS = """
def model_fn(features, labels, mode, hyperparameters):
    pass
def train_input_fn(training_dir, hyperparameters):
    pass
"""


def test_create_model_serves_the_code_the_job_ran_under_a_fresh_name(
    session: kiln.Session, write_script
) -> None:
    source = write_script(TRAIN)
    estimator = kiln.PyTorch("train.py", source_dir=str(source), sagemaker_session=session)
    estimator.fit(logs=False)
    first = estimator.create_model()
    time.sleep(0.002)  # names carry milliseconds
    second = estimator.create_model()
    assert isinstance(first, kiln.PyTorchModel)
    assert first.name != second.name
    assert first.name is not None
    assert first.name.startswith("pytorch-training-")
    assert first.entry_point == "train.py"
    assert first.source_dir == estimator.uploaded_source  # the archive the job trained with
    named = estimator.create_model(name="my-model", entry_point="train.py")
    assert named.name == "my-model"
    assert named.source_dir == str(source)  # an entry point alone is looked up in the training source_dir

    attached = kiln.PyTorch.attach(estimator.latest_training_job.name, sagemaker_session=session)  # type: ignore[union-attr]
    model = attached.create_model()
    assert (model.entry_point, model.source_dir) == ("train.py", estimator.uploaded_source)
    assert model._code_environment("unused") == {
        "SAGEMAKER_PROGRAM": "train.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": estimator.uploaded_source,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": "local",
    }


def test_an_estimator_functions_script_is_not_its_own_inference_code(
    session: kiln.Session, write_script
) -> None:
    source = write_script(ESTIMATOR_FUNCTIONS, name="estimator.py")
    local = kiln.PyTorch("estimator.py", source_dir=str(source), sagemaker_session=session)
    assert local._serves_training_script() is False
    uri = f"{session.bucket_uri()}/framework-probe/{time.time_ns()}/sourcedir.tar.gz"
    session.upload_bytes(pack_source("estimator.py", str(source)), uri)
    attached = kiln.PyTorch.from_description(
        {
            "HyperParameters": {
                "sagemaker_program": '"estimator.py"',
                "sagemaker_submit_directory": f'"{uri}"',
            }
        },
        session,
    )
    assert attached._serves_training_script() is False
    script = write_script(TRAIN, folder="plain")
    uri_plain = f"{session.bucket_uri()}/framework-probe/{time.time_ns()}/plain.tar.gz"
    session.upload_bytes(pack_source("train.py", str(script)), uri_plain)
    with tarfile.open(fileobj=io.BytesIO(session.read_artifact(uri_plain)), mode="r:gz") as tar:
        assert tar.getnames() == ["train.py"]
    plain = kiln.PyTorch.from_description(
        {
            "HyperParameters": {
                "sagemaker_program": '"train.py"',
                "sagemaker_submit_directory": f'"{uri_plain}"',
            }
        },
        session,
    )
    assert plain._serves_training_script() is True
