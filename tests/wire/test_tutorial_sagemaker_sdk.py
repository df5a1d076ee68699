"""examples/mnist/tutorial_sagemaker_sdk.py, end to end: the tutorial written with SageMaker's own SDK v2,
run by the SDK's Python against a Kiln server on loopback, with a short training.

The tests cannot download MNIST, so they write IDX files in its format and sizes (60,000 training and
10,000 test images, as prepare_data.py checks): each image is blank but for a bright bar whose place
is its label, which the tutorial CNN learns in a few steps.
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from botocore.exceptions import ClientError
from tests.wire.wire_support import (  # noqa: F401  (sagemaker_v2: the fixture)
    INSTALL_TIMEOUT,
    client,
    sagemaker_sdk_env,
    sagemaker_v2,
    use_kiln,
)

from conftest import RunningServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist" / "tutorial_sagemaker_sdk.py"
RUN_TIMEOUT = 600
TRAINING_STEPS = 30


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX layout: zero, zero, type 0x08 (unsigned byte), the number of dimensions, the sizes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(header + array.astype(np.uint8).tobytes())


def write_mnist_like(folder: Path) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for prefix, count in (("train", 60_000), ("t10k", 10_000)):
        labels = rng.integers(0, 10, size=count).astype(np.uint8)
        images = np.zeros((count, 28, 28), dtype=np.uint8)
        for label in range(10):  # a 4×12 bar: two rows of five places
            row, column = 4 + 12 * (label // 5), 2 + 5 * (label % 5)
            images[labels == label, row : row + 12, column : column + 4] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT + RUN_TIMEOUT)  # the first run installs the SDK
def test_the_tutorial_in_sagemakers_sdk_trains_deploys_predicts_ten_images_and_deletes(
    server: RunningServer,
    sagemaker_v2: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    write_mnist_like(tmp_path / "idx")
    ran = subprocess.run(
        [
            str(sagemaker_v2),
            str(EXAMPLE),
            "--idx-dir",
            str(tmp_path / "idx"),
            "--data-dir",
            str(tmp_path / "data"),
            "--training-steps",
            str(TRAINING_STEPS),
            "--instance-type",
            "ml.m5.large",
        ],
        env=sagemaker_sdk_env(server.url, tmp_path),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=tmp_path,
    )
    sys.stdout.write(ran.stdout[-4000:])  # shown by pytest when the test fails
    assert ran.returncode == 0, f"{ran.stdout[-3000:]}\n{ran.stderr[-5000:]}"
    output = ran.stdout + ran.stderr

    finished = re.search(r"Training job (\S+) Completed in [0-9.]+ s; model: (\S+)", ran.stdout)
    assert finished, ran.stdout[-3000:]
    assert finished[2].startswith("s3://kiln-tutorial/")
    assert finished[2].endswith("/output/model.tar.gz")
    assert f"step={TRAINING_STEPS} loss=" in output  # fit(logs="All") streamed the job's own lines
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", ran.stdout)[1])  # type: ignore[index]
    assert accuracy > 0.95  # the bars are learnt in a few steps (30 steps: 1.0000)

    answers = re.findall(r"^label (\d), prediction (\d)$", ran.stdout, re.MULTILINE)
    assert len(answers) == 10, ran.stdout[-3000:]
    assert all(label == prediction for label, prediction in answers), answers  # the trained model served
    endpoint = re.search(r"Endpoint (\S+) is InService", ran.stdout)[1]  # type: ignore[index]
    assert f"Deleted endpoint {endpoint} (ValidationException)" in ran.stdout
    with pytest.MonkeyPatch.context() as patch:  # and Kiln, asked by boto3 here, agrees
        use_kiln(patch, server.url)
        with pytest.raises(ClientError, match="Could not find endpoint"):
            client("sagemaker").describe_endpoint(EndpointName=endpoint)
