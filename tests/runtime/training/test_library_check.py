"""A torchvision built for another torch fails the job before the script runs, naming both versions."""

from __future__ import annotations

import sys

import pytest
import torch

import kiln
from kiln.runtime.training.library_check import check_torch_libraries, matching_torchvision

SCRIPT = """
print("the script started")
import torchvision
"""


def test_torch_releases_pair_with_their_torchvision_series() -> None:
    assert matching_torchvision("2.13.0+cpu") == "0.28"
    assert matching_torchvision("2.9.1") == "0.24"
    assert matching_torchvision("1.13.1") is None


def test_kilns_own_environment_passes_the_check() -> None:
    lines = check_torch_libraries(sys.executable)  # no torchvision here, or a matching one
    assert lines == [] or lines[0].startswith(f"Kiln: torch {torch.__version__} with torchvision ")


@pytest.mark.skipif(
    "+cpu" not in torch.__version__, reason="PyPI's torchvision mismatches only a CPU build of torch"
)
@pytest.mark.slow  # installs torchvision from PyPI into a fresh layered venv
@pytest.mark.timeout(600)
def test_requirements_with_pypis_torchvision_fail_the_job_at_once(
    session: kiln.Session, write_script
) -> None:
    # PyPI's torchvision of the matching series is a CUDA build: its operators do not load beside a CPU torch.
    series = matching_torchvision(torch.__version__)
    source = write_script(SCRIPT)
    (source / "requirements.txt").write_text(f"torchvision=={series}.0\n")
    estimator = kiln.PyTorch("train.py", source_dir=str(source), sagemaker_session=session)
    with pytest.raises(kiln.errors.UnexpectedStatusException) as failed:
        estimator.fit(logs=False)
    reason = str(failed.value)
    assert f"torchvision {series}.0 does not match torch {torch.__version__}" in reason
    assert "operator torchvision::nms does not exist" in reason
    assert f"torchvision=={series}.*" in reason  # how to install a matching pair
    name = estimator.latest_training_job.name  # type: ignore[union-attr]
    lines = [e["message"] for e in session.client.training_job_logs(name, limit=2000)["Events"]]
    assert "the script started" not in lines
