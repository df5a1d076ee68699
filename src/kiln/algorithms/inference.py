"""Serving the first-party algorithms: SageMaker's request formats in, each algorithm's answer out.

Requests (dev guide ``cdf-inference``): ``text/csv`` (features only), ``application/json``
(``{"instances": [{"features": [...]}]}``, or
``{"instances": [{"data": {"features": {"values": [...]}}}]}``,
sparse with ``keys`` and ``shape``), ``application/jsonlines`` (one such instance per line) and
``application/x-recordio-protobuf``. Answers: Linear Learner
``{"predictions": [{"score", "predicted_label"}]}``
(regressors ``score`` only), K-Means ``{"predictions": [{"closest_cluster", "distance_to_cluster"}]}``,
PCA ``{"projections": [{"projection": [...]}]}``; JSON Lines one object per line; RecordIO-protobuf
Records whose ``label`` map holds each key; CSV one row per record.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from kiln.algorithms import recordio
from kiln.algorithms.model_file import load_model_file
from kiln.errors import ValidationError

__all__ = ["RESPONSE_TYPES", "AlgorithmModel", "decode_request", "encode_response", "load_algorithm_model"]

JSON, JSONLINES, CSV = "application/json", "application/jsonlines", "text/csv"
RESPONSE_TYPES = (JSON, JSONLINES, CSV, recordio.CONTENT_TYPE)
_EXAMPLE = '{"instances": [{"features": [1.5, 16.0]}]}'


class AlgorithmModel:
    """A loaded ``model_algo-1``: ``predict(rows)`` gives one answer dict per row."""

    def __init__(self, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.algorithm = str(header["algorithm"])
        self.header = header
        self.arrays = arrays
        self.feature_dim = int(
            arrays["weights"].shape[0] if self.algorithm == "linear-learner"
            else arrays["centers"].shape[1] if self.algorithm == "kmeans"
            else arrays["components"].shape[1]
        )  # fmt: skip
        self.top_key = "projections" if self.algorithm == "pca" else "predictions"

    def predict(self, x: np.ndarray) -> list[dict[str, Any]]:
        if x.ndim != 2 or x.shape[1] != self.feature_dim:
            raise ValidationError(
                f"The {self.algorithm} model takes {self.feature_dim} features per record; the request has "
                f"{x.shape[1] if x.ndim == 2 else 'a shape of ' + str(x.shape)}. Send CSV rows of "
                f"{self.feature_dim} numbers (no label), or JSON like {_EXAMPLE}."
            )
        a = self.arrays
        if self.algorithm == "kmeans":
            distances = ((x[:, None, :] - a["centers"][None, :, :]) ** 2).sum(axis=2)
            closest = distances.argmin(axis=1)
            return [
                {"closest_cluster": float(c), "distance_to_cluster": float(np.sqrt(distances[i, c]))}
                for i, c in enumerate(closest)
            ]
        if self.algorithm == "pca":
            projected = (x - a["mean"]) @ a["components"].T
            return [{"projection": row.tolist()} for row in projected]
        raw = ((x - a["mean"]) / a["scale"]) @ a["weights"] + a["bias"]
        kind = self.header["predictor_type"]
        if kind == "regressor":
            return [{"score": float(v)} for v in raw[:, 0]]
        if kind == "binary_classifier":
            scores = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            threshold = float(self.header.get("threshold", 0.5))
            return [{"score": float(s), "predicted_label": float(s >= threshold)} for s in scores]
        shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        return [{"score": p.tolist(), "predicted_label": float(p.argmax())} for p in probabilities]


def load_algorithm_model(path: Path) -> AlgorithmModel | None:
    """The model in ``path``, or None when the file is not a Kiln algorithm artifact."""
    try:
        header, arrays = load_model_file(path)
    except (ValueError, OSError, KeyError):
        return None
    return AlgorithmModel(header, arrays)


def _instance(item: Any, width: int) -> np.ndarray:
    if isinstance(item, list):
        return np.asarray(item, dtype=np.float64)
    if isinstance(item, dict):
        features = item.get("features")
        if features is None and isinstance(item.get("data"), dict):
            features = item["data"].get("features")
        if isinstance(features, list):
            return np.asarray(features, dtype=np.float64)
        if isinstance(features, dict) and "values" in features:
            values = np.asarray(features["values"], dtype=np.float64)
            if features.get("keys"):
                size = int((features.get("shape") or [width])[0])
                dense = np.zeros(size)
                dense[np.asarray(features["keys"], dtype=np.int64)] = values
                return dense
            return values
    raise ValidationError(
        f"An instance must be a list of numbers or an object like {_EXAMPLE}; got {item!r:.80}"
    )


def decode_request(body: bytes, content_type: str, width: int) -> np.ndarray:
    """The request's records as a (rows × features) float array."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == recordio.CONTENT_TYPE:
            return recordio.read_matrix(body)[0]
        if kind in (CSV, "text/plain"):
            rows = [line for line in body.decode().splitlines() if line.strip()]
            return np.asarray([[float(v) for v in row.split(",")] for row in rows], dtype=np.float64)
        if kind == JSON:
            payload = json.loads(body)
            instances = payload.get("instances") if isinstance(payload, dict) else payload
            if not isinstance(instances, list):
                raise ValidationError(f"The JSON body has no 'instances' list; send {_EXAMPLE}")
            return np.vstack([_instance(i, width) for i in instances]) if instances else np.zeros((0, width))
        if kind in (JSONLINES, "application/jsonl", "application/x-jsonlines", "application/jsons"):
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            return np.vstack([_instance(i, width) for i in lines]) if lines else np.zeros((0, width))
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationError(
            f"The body cannot be read as {kind} ({e}); e.g. CSV '1.5,16.0' or {_EXAMPLE}"
        ) from e
    raise ValidationError(
        f"Content type {content_type!r} is not one the built-in algorithms read; use text/csv, "
        "application/json, application/jsonlines or application/x-recordio-protobuf"
    )


def encode_response(rows: list[dict[str, Any]], top_key: str, accept: str) -> bytes:
    if accept == JSON:
        return json.dumps({top_key: rows}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    if accept == recordio.CONTENT_TYPE:
        return recordio.label_records(rows)
    lines = []
    for row in rows:
        values: list[Any] = []
        for value in row.values():
            values.extend(value if isinstance(value, list) else [value])
        lines.append(",".join(repr(float(v)) for v in values))
    return ("\n".join(lines) + "\n").encode()
