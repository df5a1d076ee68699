"""``application/x-npz``: a zip of named ``.npy`` arrays, as ``numpy.savez`` writes."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt

from kiln.codecs import npy_codec
from kiln.errors import PayloadTooLarge, ValidationError

__all__ = ["MAX_EXPANDED_BYTES", "decode", "encode"]

_ZIP_MAGIC = b"PK"
# Decompressed size an archive may reach; see _check_expanded_size.
MAX_EXPANDED_BYTES = 1 << 30


def decode(body: bytes) -> npt.NDArray[Any] | dict[str, npt.NDArray[Any]]:
    """The arrays in ``body`` by name; the array itself when the archive holds exactly one.

    A scipy sparse matrix saved with ``scipy.sparse.save_npz`` comes back as its component arrays
    (``data``, ``indices``, ``indptr``, ``shape``, ``format``).
    """
    if not body.startswith(_ZIP_MAGIC):
        raise ValidationError(
            "The body is not an .npz archive (it is not a zip file). Send the bytes numpy.savez() writes, "
            "or send a single array as application/x-npy."
        )
    try:
        _check_expanded_size(body)
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            arrays: dict[str, npt.NDArray[Any]] = {name: archive[name] for name in archive.files}
    except ValueError as e:
        raise ValidationError(
            f"The .npz body cannot be read: {e}. Send numeric arrays written by numpy.savez(), "
            "not object arrays."
        ) from e
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as e:
        raise ValidationError(f"The .npz body is truncated or corrupt ({e}); send the whole file.") from e
    except MemoryError as e:
        # numpy allocates the shape a member's header declares before reading any data.
        raise PayloadTooLarge(
            f"An .npz member declares an array too large to hold in memory ({e}); send smaller arrays."
        ) from e
    if not arrays:
        raise ValidationError("The .npz archive holds no arrays; send at least one.")
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    return arrays


def _check_expanded_size(body: bytes) -> None:
    # np.savez_compressed output inflates: a few MB of zeros may hold GBs. zipfile never reads more
    # than a member's declared size, so the sum of declared sizes bounds the memory decoding takes.
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        expanded = sum(member.file_size for member in archive.infolist())
    if expanded > MAX_EXPANDED_BYTES:
        raise PayloadTooLarge(
            f"The .npz archive expands to {expanded} bytes, over Kiln's limit of {MAX_EXPANDED_BYTES}; "
            "send fewer or smaller arrays."
        )


def encode(obj: Any) -> bytes:
    """A mapping of names to arrays as named members; anything else as the single member ``arr_0``."""
    if isinstance(obj, dict):
        arrays = {str(name): npy_codec.to_array(value) for name, value in obj.items()}
    else:
        arrays = {"arr_0": npy_codec.to_array(obj)}  # the name numpy.savez gives a positional array
    buffer = io.BytesIO()
    # Written member by member, as numpy.savez does, because savez would take a key named "file" as its
    # own argument and only recent numpy versions let it refuse object arrays.
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                try:
                    np.lib.format.write_array(member, array, allow_pickle=False)
                except ValueError as e:
                    raise ValidationError(
                        f"Cannot write array {name!r} as .npz ({e}); send numbers or strings, "
                        "not Python objects."
                    ) from e
    return buffer.getvalue()
