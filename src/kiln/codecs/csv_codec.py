"""``text/csv``: rows of comma-separated numbers, read into a 2-D float array."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np
import numpy.typing as npt

from kiln.codecs._arrays import as_numpy, describe
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES
from kiln.errors import ValidationError

__all__ = ["decode", "encode"]

# dtype kinds (bool, signed, unsigned, float) whose str() never holds a comma or a quote, so cells can be
# joined directly instead of going through the csv module's quoting.
_PLAIN_NUMBER_KINDS = "biuf"


def decode(body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> npt.NDArray[np.float64]:
    """The rows of ``body`` as a 2-D float64 array; empty cells are missing values (NaN).

    The array is at most 8 bytes per byte of text (an empty cell between two commas), so the payload
    limit bounds it; ``max_bytes`` is taken for a uniform signature.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValidationError(f"The CSV body is not valid UTF-8 ({e}); send UTF-8 text.") from e
    if not text.strip():
        raise ValidationError("The CSV body is empty; send rows of comma-separated numbers such as 1.0,2.0.")
    try:
        # numpy's C parser handles the common case (every cell a number) quickly.
        return np.loadtxt(
            io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2, comments=None, quotechar='"'
        )
    except ValueError:
        # It stops at the first odd cell with a terse message. Re-read in Python: that accepts empty
        # cells as missing values (as SageMaker's genfromtxt does) and names the bad cell otherwise.
        return _decode_cell_by_cell(text)


def _decode_cell_by_cell(text: str) -> npt.NDArray[np.float64]:
    rows: list[list[float]] = []
    width = 0
    # newline="": the csv module reads line endings itself (a lone "\r" is one too).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            if not cells:
                continue  # a blank line
            line = reader.line_num
            if rows and len(cells) != width:
                raise ValidationError(
                    f"Row {line} of the CSV body has {len(cells)} values but the first row has {width}; "
                    "send the same number of comma-separated values on every row."
                )
            width = len(cells)
            rows.append([_number(cell, line, column) for column, cell in enumerate(cells, start=1)])
    except csv.Error as e:  # a NUL byte, a field past the csv module's size limit
        raise ValidationError(
            f"Row {reader.line_num} of the CSV body cannot be read ({e}); "
            "send rows of comma-separated numbers."
        ) from e
    return np.array(rows, dtype=np.float64)


def _number(cell: str, line: int, column: int) -> float:
    if not cell.strip():
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise ValidationError(
            f"Row {line}, column {column} of the CSV body is {cell!r}, which is not a number; "
            "send numbers only (no header row), or send application/json for other data."
        ) from None


def encode(obj: Any) -> bytes:
    """``obj`` as CSV: a 2-D array or list of rows gives one line per row; a 1-D one gives one line.

    A ``str`` is taken to be CSV already and passes through.
    """
    if isinstance(obj, str):
        return obj.encode("utf-8")
    array = as_numpy(obj)
    if array is not None:
        return _encode_array(array)
    if isinstance(obj, (list, tuple)):
        if not obj:
            raise ValidationError("Cannot write an empty list as CSV; send at least one value.")
        rows = obj if _is_row(obj[0]) else [obj]
        return _write_rows(rows)
    if isinstance(obj, dict):
        raise ValidationError(
            "CSV holds rows of values, not a mapping; send a list of rows, or use application/json."
        )
    return _write_rows([[obj]])


def _is_row(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    array = as_numpy(value)
    return array is not None and array.ndim > 0


def _encode_array(array: npt.NDArray[Any]) -> bytes:
    if array.ndim > 2:
        raise ValidationError(
            f"CSV holds rows of values, so it cannot hold a {array.ndim}-D array of shape {array.shape}; "
            "reshape it to 2-D, or use application/x-npy."
        )
    if array.size == 0:
        raise ValidationError(f"Cannot write an empty {describe(array)} as CSV; send at least one value.")
    rows = array.reshape(-1, array.shape[-1]) if array.ndim else array.reshape(1, 1)
    if array.dtype.kind in _PLAIN_NUMBER_KINDS:
        if array.dtype.kind == "b":
            rows = rows.astype(np.uint8)  # 1/0 read back as numbers; True/False would not
        # astype(str) formats every cell in C with the shortest round-tripping repr (float32 0.1 → "0.1").
        cells: list[list[str]] = rows.astype(str).tolist()
        return "\n".join([",".join(row) for row in cells]).encode("utf-8")
    return _write_rows(rows.tolist())


def _write_rows(rows: Any) -> bytes:
    buffer = io.StringIO()
    # The csv module quotes cells holding commas, quotes or newlines.
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    # No newline after the last row, like SageMaker's CSVSerializer, so user code splitting on "\n"
    # sees no empty trailing row.
    return buffer.getvalue().removesuffix("\n").encode("utf-8")
