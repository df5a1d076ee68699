"""A channel's files as a matrix: SageMaker's training formats for the built-in algorithms.

* ``text/csv`` (also ``csv``; parameters such as ``;label_size=0`` allowed): no header; the label in the
  first column for supervised algorithms (``label_size=1``, the default), none for unsupervised ones.
* ``text/libsvm`` / ``text/x-libsvm`` / ``libsvm``: ``label idx:value …`` lines (XGBoost only).
* ``application/x-recordio-protobuf`` / ``recordio-protobuf``: Records as ``record_set()`` writes them.

A malformed file fails the job with the channel, the file and (for CSV) the line named.
"""

from __future__ import annotations

import importlib
import io
from pathlib import Path

import numpy as np

from kiln.algorithms import recordio
from kiln.algorithms.hyperparameters import AlgorithmError
from kiln.errors import ValidationError

__all__ = ["ChannelData", "channel_format", "read_channel"]

CSV, LIBSVM, RECORDIO = "csv", "libsvm", "recordio"
_FORMATS = {
    "text/csv": CSV,
    "csv": CSV,
    "text/libsvm": LIBSVM,
    "text/x-libsvm": LIBSVM,
    "libsvm": LIBSVM,
    "application/x-recordio-protobuf": RECORDIO,
    "recordio-protobuf": RECORDIO,
}


class ChannelData:
    def __init__(self, features: np.ndarray, labels: np.ndarray | None, fmt: str) -> None:
        self.features = features
        self.labels = labels
        self.format = fmt


def channel_format(content_type: str, default: str, allowed: tuple[str, ...], channel: str) -> str:
    """The format named by a channel's ContentType (``default`` when unset)."""
    base = content_type.split(";")[0].strip().lower()
    fmt = _FORMATS.get(base) if base else default
    if fmt is None or fmt not in allowed:
        names = sorted(k for k, v in _FORMATS.items() if v in allowed)
        raise AlgorithmError(
            f"ClientError: channel {channel!r} has ContentType {content_type!r}, which this algorithm "
            f"does not read; use one of {', '.join(names)}"
        )
    return fmt


def _label_size(content_type: str, supervised: bool) -> int:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip() == "label_size":
            try:
                return int(value)
            except ValueError:
                raise AlgorithmError(
                    f"ClientError: ContentType {content_type!r}: label_size must be 0 or 1"
                ) from None
    return 1 if supervised else 0


def _files(folder: Path, channel: str) -> list[Path]:
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name != "manifest"
    )
    if not files:
        raise AlgorithmError(f"ClientError: channel {channel!r} holds no files; upload the data first")
    return files


def _read_csv(path: Path, channel: str) -> np.ndarray:
    rows: list[list[float]] = []
    width = None
    with path.open() as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = [float(v) for v in line.strip().split(",")]
            except ValueError:
                raise AlgorithmError(
                    f"ClientError: channel {channel!r}, file {path.name} line {number}: "
                    f"{line.strip()[:80]!r} is not a row of numbers; "
                    "CSV data must be numeric with no header (label first)"
                ) from None
            if width is not None and len(row) != width:
                raise AlgorithmError(
                    f"ClientError: channel {channel!r}, file {path.name} line {number} has {len(row)} "
                    f"columns, the lines before it {width}; every row needs the same columns"
                )
            width = len(row)
            rows.append(row)
    return np.asarray(rows, dtype=np.float64)


def read_channel(
    folder: Path, channel: str, content_type: str, *, default: str, allowed: tuple[str, ...], supervised: bool
) -> ChannelData:
    """Every file of the channel, stacked; labels split off as the format and ``supervised`` say."""
    fmt = channel_format(content_type, default, allowed, channel)
    files = _files(folder, channel)
    if fmt == LIBSVM:
        load_svmlight_files = importlib.import_module("sklearn.datasets").load_svmlight_files
        try:
            loaded = load_svmlight_files([str(p) for p in files], zero_based=True)
        except ValueError as e:
            raise AlgorithmError(
                f"ClientError: channel {channel!r} is not LIBSVM ({e}); lines must read 'label idx:value …'"
            ) from e
        blocks = [loaded[i].toarray() for i in range(0, len(loaded), 2)]
        width = max(b.shape[1] for b in blocks)
        features = np.vstack([np.pad(b, ((0, 0), (0, width - b.shape[1]))) for b in blocks])
        labels = np.concatenate([loaded[i] for i in range(1, len(loaded), 2)])
        return ChannelData(features, labels, fmt)
    if fmt == RECORDIO:
        parts = []
        for path in files:
            try:
                parts.append(
                    recordio.read_matrix(path.read_bytes(), f"channel {channel!r}, file {path.name}")
                )
            except ValidationError as e:
                raise AlgorithmError(f"ClientError: {e.message}") from e
        stacked = np.vstack([p[0] for p in parts])
        have = [p[1] for p in parts if p[1] is not None]
        record_labels = np.concatenate(have) if len(have) == len(parts) else None
        if supervised and record_labels is None:
            raise AlgorithmError(
                f"ClientError: channel {channel!r}: the records carry no label; a supervised algorithm "
                "needs label['values'] in each record (record_set(features, labels=...))"
            )
        return ChannelData(stacked, record_labels, fmt)
    matrix = np.vstack([_read_csv(p, channel) for p in files])
    if _label_size(content_type, supervised) == 0:
        return ChannelData(matrix, None, fmt)
    if matrix.shape[1] < 2:
        raise AlgorithmError(
            f"ClientError: channel {channel!r}: CSV rows have {matrix.shape[1]} column(s); a supervised "
            "algorithm needs the label in the first column and at least one feature after it"
        )
    return ChannelData(matrix[:, 1:], matrix[:, 0], fmt)


def csv_bytes(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """Rows as header-less CSV, the label first (for tests, examples and record sets' CSV twin)."""
    matrix = features if labels is None else np.column_stack([labels, features])
    buffer = io.StringIO()
    np.savetxt(buffer, matrix, delimiter=",", fmt="%.9g")
    return buffer.getvalue().encode()
