"""``application/x-npy``: one array in numpy's ``.npy`` format (never pickled objects)."""

from __future__ import annotations

import io
import math
import tokenize
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from kiln.codecs._arrays import as_numpy, describe
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES, check_array_size
from kiln.errors import PayloadTooLarge, ValidationError

__all__ = ["check_header", "decode", "encode", "to_array"]

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK"


def decode(body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> npt.NDArray[Any]:
    """The array in ``body``. Pickled object arrays are refused: unpickling runs the sender's code.

    The header is read first: a shape over ``max_bytes``, or one the body has too few bytes for, is
    refused before numpy allocates it.
    """
    if not body.startswith(_NPY_MAGIC):
        looks_like_npz = body.startswith(_ZIP_MAGIC)
        hint = " It looks like an .npz archive: send it as application/x-npz." if looks_like_npz else ""
        raise ValidationError(
            "The body is not a .npy array (it does not start with numpy's magic bytes)."
            f"{hint} Send the bytes numpy.save() writes, or set Content-Type to the format you are sending."
        )
    check_header(io.BytesIO(body), len(body), max_bytes, "The .npy body")
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


def check_header(stream: IO[bytes], size: int, max_bytes: int, what: str) -> None:
    """Read an .npy header from ``stream`` (``size`` bytes in all) and refuse what it cannot hold.

    An .npy file stores its values raw after the header, so a header that declares more values than
    the file has bytes is a lie (or a truncated file), and a shape over ``max_bytes`` is refused.
    """
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version in ((2, 0), (3, 0)):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValidationError(f"{what} is .npy format version {version}; send version 1.0, 2.0 or 3.0.")
    # numpy parses the header, a Python dict literal, with tokenize and ast: their errors mean a bad header.
    except (ValueError, TypeError, KeyError, EOFError, OSError, SyntaxError, tokenize.TokenError) as e:
        raise ValidationError(
            f"{what} has an unreadable .npy header ({e}); send what numpy.save() writes."
        ) from e
    check_array_size(shape, dtype.itemsize, max_bytes, what)
    if dtype.hasobject:
        return  # refused by read_array (no pickles); its values have no fixed size to check
    needed = math.prod(shape) * dtype.itemsize
    available = size - stream.tell()
    if needed > available:
        raise ValidationError(
            f"{what} declares shape {list(shape)} of {dtype}, {needed:,} bytes of values, but holds only "
            f"{available:,}; it is truncated or its header is wrong. Send the whole file."
        )


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
