"""Small data sets for the built-in algorithms' tests, written in SageMaker's training formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

import kiln
from kiln.algorithms.data import csv_bytes
from kiln.algorithms.recordio import write_matrix

Uploader = Callable[..., str]


def uploader(session: kiln.Session, tmp_path: Path) -> Uploader:
    """``upload(name, x, y, fmt)``: the rows as one csv / libsvm / recordio file; returns its channel URI."""

    def put(name: str, x: np.ndarray, y: np.ndarray | None, fmt: str = "csv") -> str:
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            data = csv_bytes(x, y)
        elif fmt == "recordio":
            data = write_matrix(x, y)
        else:
            assert y is not None
            data = "".join(
                f"{label:g} " + " ".join(f"{i}:{v:g}" for i, v in enumerate(row) if v) + "\n"
                for label, row in zip(y, x, strict=True)
            ).encode()
        (folder / f"part-0.{fmt}").write_bytes(data)
        return session.upload_data(str(folder), key_prefix=f"algorithms/{tmp_path.name}/{name}")

    return put
