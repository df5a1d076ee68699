"""An endpoint instance serving a scikit-learn model with Kiln's default handlers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from serving_instances import Instance, launcher
from serving_models import build_forest

pytest.importorskip("sklearn")

CONCURRENT_REQUESTS = 48


@pytest.fixture(scope="module")
def module_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serving-sklearn")


@pytest.fixture(scope="module")
def launch(module_tmp: Path) -> Iterator[Callable[..., Instance]]:
    with launcher(module_tmp) as start:
        yield start


@pytest.fixture(scope="module")
def forest(module_tmp: Path) -> tuple[Path, Any, np.ndarray]:
    model_dir = module_tmp / "forest"
    model, features = build_forest(model_dir)
    return model_dir, model, features


@pytest.fixture(scope="module")
def instance(forest: tuple[Path, Any, np.ndarray], launch: Callable[..., Any]) -> Any:
    return launch(forest[0], env={"KILN_MAX_BATCH_DELAY_MS": "5"})


@pytest.fixture(scope="module")
def client(instance: Any) -> Any:
    with instance.client() as c:
        yield c


def test_json_rows_get_predicted_labels(client: httpx.Client, forest: tuple[Path, Any, np.ndarray]) -> None:
    _, model, features = forest
    rows = features[[0, 60, 120]]
    response = client.post("/invocations", json=rows.tolist())
    assert response.status_code == 200, response.text
    assert response.json() == model.predict(rows).tolist()


def test_csv_rows_get_csv_labels(client: httpx.Client, forest: tuple[Path, Any, np.ndarray]) -> None:
    _, model, features = forest
    rows = features[[5, 55, 105, 145]]
    body = "\n".join(",".join(map(str, row)) for row in rows)
    response = client.post(
        "/invocations", content=body, headers={"content-type": "text/csv", "accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    labels = [int(float(value)) for value in response.text.replace(",", " ").split()]
    assert labels == model.predict(rows).tolist()


def test_wrong_feature_count_is_400_naming_it(client: httpx.Client) -> None:
    response = client.post("/invocations", json=[[1.0, 2.0]])
    assert response.status_code == 400
    error = response.json()["error"]
    assert "shape (1, 2)" in error
    assert "features" in error
    assert client.post("/invocations", json=[[5.1, 3.5, 1.4, 0.2]]).status_code == 200


def test_torch_is_never_imported(instance: Any) -> None:
    maps = Path(f"/proc/{instance.process.pid}/maps")
    if not sys.platform.startswith("linux") or not maps.exists():
        pytest.skip("reads the instance's memory map from /proc")
    assert "libtorch" not in maps.read_text()


def test_concurrent_rows_merge_along_the_row_axis(
    instance: Any, forest: tuple[Path, Any, np.ndarray]
) -> None:
    _, model, features = forest
    rows = [features[i : i + 1] for i in range(CONCURRENT_REQUESTS)]

    responses = instance.post_concurrently([row.tolist() for row in rows])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    answers = [r.json() for r in responses]
    assert answers == [model.predict(row).tolist() for row in rows]
    stats = instance.stats()
    # One row per request: a 3-D stack is refused by scikit-learn, concatenating rows is what works.
    assert {"input": "float64[1, 4]", "merge": "concat"} in stats["calibrations"], stats
