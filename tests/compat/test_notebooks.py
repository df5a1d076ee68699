"""SageMaker notebook code runs on Kiln with only its imports changed (issue 17).

Each folder here holds a training script (and inference scripts) written for SageMaker's documented
contracts and ``driver.py``: notebook driver code as SageMaker's examples write it, with ``sagemaker``
imports changed to ``kiln``. The driver makes its data, trains, deploys with ``estimator.deploy()``,
predicts with the default predictor, deploys again with another entry point, and deletes what it made.
It runs as its own program against the test server (``KILN_URL``), as a notebook would.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import RunningServer

HERE = Path(__file__).parent
SCENARIOS = sorted(p.parent.name for p in HERE.glob("*/driver.py"))
DRIVER_TIMEOUT_SECONDS = 420
pytestmark = pytest.mark.timeout(DRIVER_TIMEOUT_SECONDS + 60)
# kiln's public modules and the SageMaker modules they stand for.
SAGEMAKER_COUNTERPARTS = {
    "kiln": "sagemaker",
    "kiln.pytorch": "sagemaker.pytorch",
    "kiln.sklearn": "sagemaker.sklearn",
    "kiln.serializers": "sagemaker.serializers",
    "kiln.deserializers": "sagemaker.deserializers",
    "kiln.tuner": "sagemaker.tuner",
}


def run_driver(server: RunningServer, scenario: str, workdir: Path, program: str = "driver.py") -> str:
    """Run ``program`` of the scenario folder (copied to ``workdir``) against ``server``; its stdout."""
    source = HERE / scenario if (HERE / scenario).is_dir() else HERE.parents[1] / scenario
    shutil.copytree(source, workdir, dirs_exist_ok=True)
    env = server.env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parents[1] / "src"), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, program],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=DRIVER_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, f"{scenario} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout


def printed(stdout: str, label: str) -> list[object]:
    """The JSON values the driver printed after ``label`` (``print(label, json.dumps(v), …)``)."""
    line = next(line for line in stdout.splitlines() if line.startswith(label))
    return [json.loads(part) for part in line[len(label) :].split(" | ")]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_driver_differs_from_sagemakers_only_in_its_imports(scenario: str) -> None:
    tree = ast.parse((HERE / scenario / "driver.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kiln"):
            assert node.module in SAGEMAKER_COUNTERPARTS, f"{node.module} has no SageMaker counterpart"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("kiln"):
                    assert alias.name in SAGEMAKER_COUNTERPARTS
                    assert alias.asname == SAGEMAKER_COUNTERPARTS[alias.name], "import kiln as sagemaker"
    body = [n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)]
    assert "kiln" not in "\n".join(ast.unparse(n) for n in body), "only the imports may name Kiln"


def test_npy_channels_and_handlers_in_the_training_script(server: RunningServer, tmp_path: Path) -> None:
    out = run_driver(server, "npy_handlers_in_training_script", tmp_path)
    assert "test_accuracy=1.0000" in out  # printed by estimator.logs() after fit(logs=False)
    classes, expected = printed(out, "classes:")
    assert classes == expected  # the training script's model_fn / predict_fn served the requests
    shape, sums_to_one = printed(out, "probabilities shape:")
    assert shape == [10, 3]
    assert sums_to_one is True
    first, second = printed(out, "endpoints:")
    assert first != second  # the redeploy made a model and endpoint of its own


def test_npz_channel_and_a_separate_inference_script(server: RunningServer, tmp_path: Path) -> None:
    out = run_driver(server, "npz_separate_inference_script", tmp_path)
    (predictions,) = printed(out, "predictions:")
    assert predictions == pytest.approx([1.31, -0.31, 0.5], abs=0.2)  # x0 * x1 + 0.5
    (clipped,) = printed(out, "clipped:")
    assert min(clipped) >= 0.0
    assert max(clipped) <= 1.0


def test_two_hosts_with_the_scripts_own_gloo_rendezvous_and_a_csv_channel(
    server: RunningServer, tmp_path: Path
) -> None:
    out = run_driver(server, "csv_two_hosts_gloo", tmp_path)
    assert "rank 0 of 2 on algo-1" in out
    assert "rank 1 of 2 on algo-2" in out
    (predictions,) = printed(out, "predictions:")
    assert predictions == pytest.approx([3.0, 1.0], abs=0.1)  # 2a - b + 0.5c + 1
    (rounded,) = printed(out, "rounded:")
    assert rounded == [3.0, 1.0]


def test_idx_channel_and_a_torchscript_model_served_without_handlers(
    server: RunningServer, tmp_path: Path
) -> None:
    out = run_driver(server, "idx_torchscript_default_handlers", tmp_path)
    (shape,) = printed(out, "logits shape:")
    assert shape == [8, 2]
    predicted, expected = printed(out, "argmax:")
    assert predicted == expected
    (labels,) = printed(out, "labels:")
    assert labels == expected  # the second entry point's output_fn answered


def test_spot_training_resumes_from_checkpoints_and_transform_fn_serves(
    server: RunningServer, tmp_path: Path
) -> None:
    out = run_driver(server, "spot_checkpoints_transform_fn", tmp_path)
    assert "resumed at epoch 3" in out  # the second job started from the first one's checkpoints
    (spot,) = printed(out, "spot:")
    assert spot == {"use_spot_instances": True, "max_wait": 1200}
    (predictions,) = printed(out, "predictions:")
    assert predictions == pytest.approx([2.0, 5.0], abs=0.1)  # 3x + 2
    (pairs,) = printed(out, "pairs:")
    assert len(pairs) == 1
    assert pairs[0] == pytest.approx([1.0, 5.0], abs=0.1)  # the input beside its prediction


def test_code_from_a_git_repository_with_a_dependency_folder(server: RunningServer, tmp_path: Path) -> None:
    out = run_driver(server, "git_config_dependencies", tmp_path)
    (predictions,) = printed(out, "predictions:")
    assert predictions == pytest.approx([2.0, 2.0], abs=0.3)  # x² − x
    (negated,) = printed(out, "negated:")
    assert negated == pytest.approx([-2.0, -2.0], abs=0.3)


def test_a_scikit_learn_script_with_model_fn(server: RunningServer, tmp_path: Path) -> None:
    pytest.importorskip("kiln.sklearn", reason="kiln.sklearn arrives with the frameworks work")
    out = run_driver(server, "sklearn_model_fn", tmp_path)
    (classes,) = printed(out, "classes:")
    assert classes == [1, 0]
    (probabilities,) = printed(out, "probabilities:")
    assert probabilities[0][1] > 0.9
    assert probabilities[1][0] > 0.9


def test_the_sagemaker_example_notebook_runs_with_only_its_imports_changed(
    server: RunningServer, tmp_path: Path
) -> None:
    pytest.importorskip("kiln.sklearn", reason="kiln.sklearn arrives with the frameworks work")
    out = run_driver(server, "examples/sagemaker_notebook", tmp_path, program="notebook.py")
    # The notebook prints the predicted, then the true classes: two NumPy arrays, perhaps wrapped.
    predicted, expected = (block.split() for block in re.findall(r"\[([^\[\]]*)\]", out)[-2:])
    assert len(predicted) == len(expected) == 29
    agree = sum(float(p) == float(e) for p, e in zip(predicted, expected, strict=True))
    assert agree >= 26  # of 29 held-back rows; a decision tree gets nearly all of them
