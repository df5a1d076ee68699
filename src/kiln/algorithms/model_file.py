"""The artifact of Kiln's first-party algorithms: ``model_algo-1`` in ``model.tar.gz``, as SageMaker names it.

SageMaker's file is an MXNet NDArray dictionary; Kiln's is NumPy's ``.npz`` (arrays only, read with
``allow_pickle=False``) holding the fitted parameters and a JSON header naming the algorithm and its
settings. ``kiln.algorithms.inference`` turns it back into a predictor; it does not need the library
that trained it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODEL_FILE", "load_model_file", "save_model_file"]

MODEL_FILE = "model_algo-1"


def save_model_file(model_dir: Path, algorithm: str, header: dict[str, Any], **arrays: np.ndarray) -> Path:
    model_dir.mkdir(parents=True, exist_ok=True)
    path = model_dir / MODEL_FILE
    buffer = io.BytesIO()
    meta = json.dumps({"algorithm": algorithm, **header})
    contents: dict[str, Any] = {"__header__": np.frombuffer(meta.encode(), dtype=np.uint8), **arrays}
    np.savez(buffer, **contents)
    path.write_bytes(buffer.getvalue())
    return path


def load_model_file(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(header, arrays); ValueError when the file is not such an archive."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays.pop("__header__").tobytes().decode())
    if not isinstance(header, dict) or "algorithm" not in header:
        raise ValueError("the archive has no algorithm header")
    return header, arrays
