"""SageMaker framework image URIs read as (framework, version, job kind, processor) and a Kiln runtime."""

from __future__ import annotations

import pytest

from kiln.errors import ValidationError
from kiln.images import KNOWN_REPOSITORIES, parse_image_uri, runtime_for_image

DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("uri", "framework", "version", "kind", "processor", "python"),
    [
        (f"{DLC}/pytorch-training:2.1-cpu-py310", "pytorch", "2.1", "training", "cpu", "py310"),
        (f"{DLC}/pytorch-training:2.1-gpu-py310", "pytorch", "2.1", "training", "gpu", "py310"),
        (f"{DLC}/pytorch-inference:2.1-cpu-py310", "pytorch", "2.1", "inference", "cpu", "py310"),
        (
            f"{DLC}/pytorch-inference:2.0.1-gpu-py310-cu118-ubuntu20.04-sagemaker",
            "pytorch",
            "2.0.1",
            "inference",
            "gpu",
            "py310",
        ),
        (f"{DLC}/tensorflow-training:2.13-cpu-py310", "tensorflow", "2.13", "training", "cpu", "py310"),
        (f"{DLC}/tensorflow-inference:2.13-gpu", "tensorflow", "2.13", "inference", "gpu", None),
        (f"{SKLEARN}/sagemaker-scikit-learn:1.2-1-cpu-py3", "sklearn", "1.2-1", "any", "cpu", "py3"),
        (f"{SKLEARN}/sagemaker-xgboost:1.7-1", "xgboost", "1.7-1", "any", None, None),
        (
            "246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1-cpu-py3",
            "xgboost",
            "1.7-1",
            "any",
            "cpu",
            "py3",
        ),
        (
            "727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:1.13-cpu-py39",
            "pytorch",
            "1.13",
            "training",
            "cpu",
            "py39",
        ),
    ],
)
def test_sagemaker_framework_images_are_read(
    uri: str, framework: str, version: str, kind: str, processor: str | None, python: str | None
) -> None:
    image = parse_image_uri(uri)
    assert (image.framework, image.version, image.job_kind, image.processor, image.python) == (
        framework,
        version,
        kind,
        processor,
        python,
    )
    assert runtime_for_image(uri) == framework


def test_every_known_repository_maps_to_a_runtime() -> None:
    assert {runtime for _, runtime, _ in KNOWN_REPOSITORIES.values()} == {
        "pytorch",
        "tensorflow",
        "sklearn",
        "xgboost",
    }
    for repository in KNOWN_REPOSITORIES:
        assert parse_image_uri(f"{DLC}/{repository}:1.0-cpu-py3").repository == repository


@pytest.mark.parametrize(
    "uri",
    [
        "nginx:latest",
        f"{DLC}/huggingface-pytorch-training:2.0-transformers4.28-gpu-py310",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/custom-trainer:7",
        "",
    ],
)
def test_other_images_are_refused_with_the_list_kiln_understands(uri: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_image_uri(uri)
    message = refused.value.message
    assert "runs no containers" in message
    for repository in (
        "pytorch-training",
        "pytorch-inference",
        "tensorflow-training",
        "sagemaker-scikit-learn",
        "sagemaker-xgboost",
    ):
        assert repository in message
