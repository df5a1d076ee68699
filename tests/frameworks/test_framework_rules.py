"""The framework rules that need no framework: image names, versions, TF_CONFIG, TF Serving rewrites."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiln.errors import ValidationError
from kiln.runtime.serving.adapters.tensorflow import find_saved_models
from kiln.runtime.serving.adapters.tensorflow_requests import (
    parse_custom_attributes,
    parse_tfs_body,
    rewrite_to_tfs_json,
)
from kiln.runtime.training.frameworks import (
    FRAMEWORKS,
    FrameworkRequest,
    FrameworkUnavailable,
    installed_version,
    requested_framework,
    resolve_framework,
    version_matches,
)
from kiln.runtime.training.spec import HostSpec
from kiln.runtime.training.tensorflow_mode import distribution_mode, model_dir_argument, tf_config


@pytest.mark.parametrize(
    ("image", "framework", "version"),
    [
        (
            "763104351884.dkr.ecr.us-west-2.amazonaws.com/tensorflow-training:2.13.0-cpu-py310",
            "tensorflow",
            "2.13.0",
        ),
        ("tensorflow-training:2.21-cpu-py311", "tensorflow", "2.21"),
        (
            "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
            "sklearn",
            "1.2",
        ),
        ("sagemaker-xgboost:1.7-1", "xgboost", "1.7"),
        ("pytorch-training:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker", "pytorch", "2.3.0"),
    ],
)
def test_the_training_image_names_framework_and_version(image: str, framework: str, version: str) -> None:
    request = requested_framework({"AlgorithmSpecification": {"TrainingImage": image}})
    assert request is not None
    assert (request.framework.name, request.version) == (framework, version)


def test_a_job_without_a_framework_image_runs_as_before() -> None:
    assert requested_framework({"AlgorithmSpecification": {}}) is None
    assert requested_framework({"AlgorithmSpecification": {"TrainingImage": "my/own-image:1"}}) is None


def test_versions_match_by_whole_parts() -> None:
    assert version_matches("2.21", "2.21.0")
    assert version_matches("2.21.0", "2.21.0")
    assert not version_matches("2.2", "2.21.0")
    assert not version_matches("2.20", "2.21.0")
    assert version_matches("1.9", "1.9.1+cpu")


def _spec(host: str, hosts: int = 3) -> HostSpec:
    names = [f"algo-{i + 1}" for i in range(hosts)]
    return HostSpec(
        job_name="job",
        host=host,
        hosts=names,
        attempt=1,
        server_url="http://127.0.0.1:1",
        artifact_url="file:///tmp",
        base_dir="/tmp/x",
        job={},
        master_port=5000,
    )


def test_multi_worker_mirrored_strategy_makes_every_host_a_worker_on_its_own_port() -> None:
    config = tf_config(_spec("algo-2"), "multi_worker_mirrored_strategy", hosts_resolve=True)
    assert config == {
        "cluster": {"worker": ["algo-1:5001", "algo-2:5002", "algo-3:5003"]},
        "environment": "cloud",
        "task": {"index": 1, "type": "worker"},
    }
    loopback = tf_config(_spec("algo-1"), "multi_worker_mirrored_strategy", hosts_resolve=False)
    assert loopback["cluster"]["worker"][0] == "127.0.0.1:5001"


def test_parameter_servers_follow_the_toolkit_layout() -> None:
    master = tf_config(_spec("algo-1"), "parameter_server", hosts_resolve=True)
    assert master["cluster"] == {
        "master": ["algo-1:5001"],
        "ps": ["algo-1:5004", "algo-2:5005", "algo-3:5006"],
        "worker": ["algo-2:5002", "algo-3:5003"],
    }
    assert master["task"] == {"index": 0, "type": "master"}
    assert tf_config(_spec("algo-3"), "parameter_server", hosts_resolve=True)["task"] == {
        "index": 1,
        "type": "worker",
    }
    ps = tf_config(_spec("algo-2"), "parameter_server", hosts_resolve=True, ps_task=True)
    assert ps["task"] == {"index": 1, "type": "ps"}


def test_distribution_flags_decide_the_mode_as_the_toolkit_does() -> None:
    assert distribution_mode({"sagemaker_parameter_server_enabled": True}, 2) == "parameter_server"
    assert distribution_mode({"sagemaker_parameter_server_enabled": True}, 1) is None
    assert distribution_mode({"sagemaker_multi_worker_mirrored_strategy_enabled": "true"}, 2) == (
        "multi_worker_mirrored_strategy"
    )
    assert distribution_mode({}, 2) is None


def test_model_dir_uris_become_local_folders_uploaded_to_them(tmp_path: Path) -> None:
    spec = _spec("algo-2")
    shown, uri = model_dir_argument("s3://bucket/out/job/model", spec, tmp_path / "md", tuning=False)
    assert (shown, uri) == (str(tmp_path / "md"), "s3://bucket/out/job/model/algo-2")
    assert model_dir_argument("/opt/ml/model", spec, tmp_path / "md", tuning=True) == ("/opt/ml/model", None)
    shown, uri = model_dir_argument("s3://b/tuning", _spec("algo-1"), tmp_path / "md", tuning=True)
    assert uri == "s3://b/tuning/job/model"


@pytest.mark.parametrize(
    ("body", "content_type", "instances"),
    [
        ('{"instances": [[1, 2]]}', "application/json", [[1, 2]]),
        ("[1, 2]", "application/json", [[1, 2]]),
        ("[[1, 2], [3, 4]]", "application/json", [[1, 2], [3, 4]]),
        ('{"a": 1}\n{"a": 2}\n', "application/jsonlines", [{"a": 1}, {"a": 2}]),
        ("[1, 2]\n", "application/jsons", [[1, 2]]),  # one line is plain JSON to the container
        ("1,2\n3,4\n", "text/csv", [[1, 2], [3, 4]]),
        ("7\n8\n", "text/csv", [7, 8]),
        ("a,b\nc,d\n", "text/csv", [["a", "b"], ["c", "d"]]),
    ],
)
def test_bodies_are_rewritten_as_the_container_rewrites_them(
    body: str, content_type: str, instances: object
) -> None:
    text = rewrite_to_tfs_json(body.encode(), content_type)
    assert text is not None
    assert json.loads(text)["instances"] == instances


def test_array_types_are_not_rewritten() -> None:
    assert rewrite_to_tfs_json(b"\x93NUMPY", "application/x-npy") is None


def test_custom_attributes_and_request_bodies_parse_as_tf_serving_reads_them() -> None:
    attributes = parse_custom_attributes("tfs-model-name=beta, tfs-model-version=2,other=1")
    assert attributes == {"tfs-model-name": "beta", "tfs-model-version": "2"}
    request = parse_tfs_body('{"signature_name": "s", "inputs": {"x": [1]}}', attributes)
    assert (request.model_name, request.version, request.signature_name, request.columnar) == (
        "beta",
        "2",
        "s",
        True,
    )
    with pytest.raises(ValidationError, match="only predict"):
        parse_tfs_body('{"instances": []}', {"tfs-method": "classify"})
    with pytest.raises(ValidationError, match="Missing 'inputs' or 'instances'"):
        parse_tfs_body('{"examples": []}', {})


def test_saved_models_are_found_in_every_layout_the_container_knows(tmp_path: Path) -> None:
    for folder in ("plain/1", "legacy/export/Servo/3", "multi/a/1", "multi/a/2", "multi/b/5", "plain/code/9"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "saved_model.pb").write_bytes(b"")
    assert find_saved_models(tmp_path / "plain") == {"model": {1: tmp_path / "plain/1"}}
    assert find_saved_models(tmp_path / "legacy") == {"Servo": {3: tmp_path / "legacy/export/Servo/3"}}
    assert find_saved_models(tmp_path / "multi") == {
        "a": {1: tmp_path / "multi/a/1", 2: tmp_path / "multi/a/2"},
        "b": {5: tmp_path / "multi/b/5"},
    }


def _request(image: str) -> FrameworkRequest:
    request = requested_framework({"AlgorithmSpecification": {"TrainingImage": image}})
    assert request is not None
    return request


def test_a_version_the_server_lacks_gets_a_pinned_environment_or_a_clear_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("sklearn")
    request = _request("sagemaker-scikit-learn:0.23-1-cpu-py3")
    monkeypatch.delenv("KILN_FRAMEWORK_INSTALL", raising=False)
    environment = resolve_framework(request)
    # 0.23 predates numpy 2 (Kiln's): its environment gets numpy 1 and a pandas built for it.
    assert environment.requirement == "scikit-learn==0.23.*\nnumpy<2\npandas<3"
    assert "a cached environment with scikit-learn==0.23.*, numpy<2, pandas<3" in environment.note
    current = resolve_framework(_request("sagemaker-scikit-learn:1.4-2-cpu-py3"))
    assert current.requirement in (None, "scikit-learn==1.4.*")
    monkeypatch.setenv("KILN_FRAMEWORK_INSTALL", "0")
    with pytest.raises(
        FrameworkUnavailable, match=r"framework_version 0\.23 of scikit-learn .*\(it has 1\.\d"
    ):
        resolve_framework(request)


def test_pytorch_jobs_run_on_the_servers_torch_and_say_so() -> None:
    torch_version = installed_version(FRAMEWORKS["pytorch"])
    if torch_version is None:
        pytest.skip("torch is not installed")
    environment = resolve_framework(_request("pytorch-training:1.13-cpu-py39"))
    assert environment.requirement is None
    assert f"runs on the server's PyTorch {torch_version}" in environment.note
