"""``application/x-npy``: one array in numpy's ``.npy`` format (never pickled objects)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from kiln.codecs._arrays import as_numpy, describe
from kiln.errors import PayloadTooLarge, ValidationError

__all__ = ["decode", "encode", "to_array"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"


def decode(body: bytes) -> npt.NDArray[Any]:
    """The array in ``body``. Pickled object arrays are refused: unpickling runs the sender's code."""
    if not body.startswith(_NPY_MAGIC):
        looks_like_npz = body.startswith(_ZIP_MAGIC)
        hint = " It looks like an .npz archive: send it as application/x-npz." if looks_like_npz else ""
        raise ValidationError(
            "The body is not a .npy array (it does not start with numpy's magic bytes)."
            f"{hint} Send the bytes numpy.save() writes, or set Content-Type to the format you are sending."
        )
    try:
        # read_array, unlike np.load, never falls back to unpickling or to opening a zip archive.
        return np.lib.format.read_array(io.BytesIO(body), allow_pickle=False)
    except ValueError as e:
        raise ValidationError(
            f"The .npy body cannot be read: {e}. Send a numeric array written by numpy.save(), "
            "not an object array."
        ) from e
    except (EOFError, OSError) as e:
        raise ValidationError(f"The .npy body is truncated or corrupt ({e}); send the whole file.") from e
    except MemoryError as e:
        # numpy allocates the shape the header declares before reading any data.
        raise PayloadTooLarge(
            f"The .npy header declares an array too large to hold in memory ({e}); send a smaller array."
        ) from e


def to_array(obj: Any, dtype: npt.DTypeLike | None = None) -> npt.NDArray[Any]:
    """``obj`` (array, tensor, list, scalar) as an ndarray, refusing mappings and ragged lists."""
    if isinstance(obj, dict):
        raise ValidationError(
            "A .npy body holds one array, not a mapping; send an array, or use application/x-npz."
        )
    array = as_numpy(obj)
    try:
        return np.asarray(obj if array is None else array, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise ValidationError(f"Cannot turn a {describe(obj)} into a numpy array ({e}).") from e


def encode(obj: Any) -> bytes:
    """``obj`` as the bytes ``numpy.save`` would write."""
    array = to_array(obj)
    buffer = io.BytesIO()
    try:
        np.lib.format.write_array(buffer, array, allow_pickle=False)
    except ValueError as e:
        raise ValidationError(
            f"Cannot write a {describe(array)} as .npy ({e}); send numbers or strings, not Python objects."
        ) from e
    return buffer.getvalue()
