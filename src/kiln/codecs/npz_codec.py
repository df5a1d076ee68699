"""``application/x-npz``: a zip of named ``.npy`` arrays, as ``numpy.savez`` writes."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import numpy.typing as npt

from kiln.codecs import npy_codec
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES
from kiln.errors import PayloadTooLarge, ValidationError

__all__ = ["decode", "encode"]

_ZIP_MAGIC = b"PK"


def decode(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES
) -> npt.NDArray[Any] | dict[str, npt.NDArray[Any]]:
    """The arrays in ``body`` by name; the array itself when the archive holds exactly one.

    A scipy sparse matrix saved with ``scipy.sparse.save_npz`` comes back as its component arrays
    (``data``, ``indices``, ``indptr``, ``shape``, ``format``). The members' declared sizes and
    array headers are checked against ``max_bytes`` before anything is inflated or allocated.
    """
    if not body.startswith(_ZIP_MAGIC):
        raise ValidationError(
            "The body is not an .npz archive (it is not a zip file). Send the bytes numpy.savez() writes, "
            "or send a single array as application/x-npy."
        )
    try:
        _check_members(body, max_bytes)
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            arrays: dict[str, npt.NDArray[Any]] = {name: archive[name] for name in archive.files}
    except ValueError as e:
        raise ValidationError(
            f"The .npz body cannot be read: {e}. Send numeric arrays written by numpy.savez(), "
            "not object arrays."
        ) from e
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError, NotImplementedError) as e:
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


def _check_members(body: bytes, max_bytes: int) -> None:
    # np.savez_compressed output inflates: a few MB of zeros may hold GBs. zipfile never reads more
    # than a member's declared size, so the sum of declared sizes bounds what inflating takes; and
    # each member's .npy header must fit its own declared size, which bounds what numpy allocates.
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        members = archive.infolist()
        expanded = sum(member.file_size for member in members)
        if expanded > max_bytes:
            raise PayloadTooLarge(
                f"The .npz archive expands to {expanded:,} bytes, over Kiln's limit of {max_bytes:,} "
                "(KILN_MAX_DECODED_BYTES); send fewer or smaller arrays."
            )
        for member in members:
            if not member.filename.endswith(".npy"):
                continue  # np.load ignores what is not an array
            with archive.open(member) as stream:
                npy_codec.check_header(
                    stream, member.file_size, max_bytes, f"Member {member.filename!r} of the .npz body"
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
