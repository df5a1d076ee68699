"""``application/x-protobuf``: one tensor as TensorFlow's ``TensorProto`` message.

Encoding always writes ``tensor_content`` (raw little-endian bytes), or ``string_val`` for strings.
Decoding also reads the typed ``*_val`` fields, which ``tf.make_tensor_proto`` uses for strings,
half floats and values broadcast to a shape, with TensorFlow's rule that a short list of values is
padded with its last value (so one value fills the whole shape) and an empty one means zeros.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from kiln.codecs._arrays import as_numpy, describe
from kiln.codecs._tensor_proto_schema import DATA_TYPE_NAMES, DataType, TensorProto
from kiln.codecs.limits import DEFAULT_MAX_DECODED_BYTES, check_array_size
from kiln.errors import ValidationError

__all__ = ["decode", "encode", "to_message"]


@dataclass(frozen=True)
class _Kind:
    """How one DataType maps to numpy, and which repeated field carries its values."""

    data_type: int
    dtype: np.dtype[Any]
    values_field: str
    # The numpy type the values field holds on the wire, when it differs from ``dtype``: half floats
    # travel as their 16-bit patterns in an int32 field, complex numbers as (real, imag) pairs.
    wire_dtype: np.dtype[Any] | None = None


def _kind(data_type: int, dtype: Any, values_field: str, wire_dtype: Any = None) -> _Kind:
    return _Kind(
        data_type, np.dtype(dtype), values_field, None if wire_dtype is None else np.dtype(wire_dtype)
    )


_KINDS = (
    _kind(DataType.DT_FLOAT, np.float32, "float_val"),
    _kind(DataType.DT_DOUBLE, np.float64, "double_val"),
    _kind(DataType.DT_HALF, np.float16, "half_val", np.uint16),
    _kind(DataType.DT_INT8, np.int8, "int_val"),
    _kind(DataType.DT_INT16, np.int16, "int_val"),
    _kind(DataType.DT_INT32, np.int32, "int_val"),
    _kind(DataType.DT_INT64, np.int64, "int64_val"),
    _kind(DataType.DT_UINT8, np.uint8, "int_val"),
    _kind(DataType.DT_UINT16, np.uint16, "int_val"),
    _kind(DataType.DT_UINT32, np.uint32, "uint32_val"),
    _kind(DataType.DT_UINT64, np.uint64, "uint64_val"),
    _kind(DataType.DT_BOOL, np.bool_, "bool_val"),
    _kind(DataType.DT_COMPLEX64, np.complex64, "scomplex_val", np.float32),
    _kind(DataType.DT_COMPLEX128, np.complex128, "dcomplex_val", np.float64),
    # TensorFlow strings are arbitrary bytes; an object array keeps them exactly (numpy's "S" dtype
    # would drop trailing NUL bytes).
    _kind(DataType.DT_STRING, object, "string_val"),
)
# The numpy type of each repeated field as declared in tensor.proto.
_FIELD_DTYPES: dict[str, type[np.generic]] = {
    "float_val": np.float32,
    "double_val": np.float64,
    "half_val": np.int32,
    "int_val": np.int32,
    "int64_val": np.int64,
    "uint32_val": np.uint32,
    "uint64_val": np.uint64,
    "bool_val": np.bool_,
    "scomplex_val": np.float32,
    "dcomplex_val": np.float64,
}
_BY_DATA_TYPE: dict[int, _Kind] = {kind.data_type: kind for kind in _KINDS}
_BY_DTYPE: dict[np.dtype[Any], _Kind] = {kind.dtype: kind for kind in _KINDS if not kind.dtype.hasobject}
_SUPPORTED_DTYPES = ", ".join(str(dtype) for dtype in _BY_DTYPE)
_INT32 = np.iinfo(np.int32)


def decode(body: bytes, *, max_bytes: int = DEFAULT_MAX_DECODED_BYTES) -> npt.NDArray[Any]:
    """The tensor in ``body`` as an ndarray of the matching dtype and shape.

    A handful of bytes (one float_val and a large shape) may ask for any amount of memory: the shape
    is checked against ``max_bytes`` before anything is allocated.
    """
    message = TensorProto()
    try:
        message.ParseFromString(body)
    except (DecodeError, RecursionError, ValueError) as e:  # protobuf's pure-Python parser raises all three
        raise ValidationError(
            f"The body is not a TensorProto message ({e}). Send a serialized tensorflow.TensorProto "
            "(tf.make_tensor_proto(...).SerializeToString()), "
            "or set Content-Type to the format you are sending."
        ) from e
    shape = _shape(message)
    count = math.prod(shape)
    if message.dtype == DataType.DT_BFLOAT16:
        # Decoded to float32: four bytes per value.
        check_array_size(shape, np.dtype(np.float32).itemsize, max_bytes, "The TensorProto")
        return _bfloat16(message, shape, count)
    kind = _BY_DATA_TYPE.get(message.dtype)
    if kind is None:
        name = DATA_TYPE_NAMES.get(message.dtype, f"number {message.dtype}")
        raise ValidationError(
            f"The TensorProto has dtype {name}, which Kiln cannot turn into an array; "
            f"send one of: {', '.join(DATA_TYPE_NAMES[kind.data_type] for kind in _KINDS)}."
        )
    check_array_size(shape, kind.dtype.itemsize, max_bytes, "The TensorProto")
    if message.tensor_content:
        return _from_content(message.tensor_content, kind.dtype, shape, count)
    return _fill(_values(message, kind), shape, count)


def _shape(message: Any) -> tuple[int, ...]:
    if message.tensor_shape.unknown_rank:
        raise ValidationError("The TensorProto has an unknown rank; a tensor value needs its full shape.")
    shape = tuple(int(dim.size) for dim in message.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise ValidationError(
            f"The TensorProto's shape {list(shape)} has an unknown (-1) dimension; a value needs every size."
        )
    return shape


def _from_content(
    content: bytes, dtype: np.dtype[Any], shape: tuple[int, ...], count: int
) -> npt.NDArray[Any]:
    if dtype.hasobject:
        raise ValidationError("A DT_STRING TensorProto carries its values in string_val, not tensor_content.")
    if len(content) != count * dtype.itemsize:
        raise ValidationError(
            f"The TensorProto's tensor_content holds {len(content)} bytes, but a {dtype} tensor of shape "
            f"{list(shape)} needs {count * dtype.itemsize}."
        )
    # astype copies into native byte order, so the caller gets a writable array it may change in place.
    return np.frombuffer(content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)


def _values(message: Any, kind: _Kind) -> npt.NDArray[Any]:
    field = getattr(message, kind.values_field)
    if kind.dtype.hasobject:
        values = np.empty(len(field), dtype=object)
        values[:] = list(field)
        return values
    wire = _field_array(message, kind.values_field, kind.wire_dtype or kind.dtype)
    if kind.wire_dtype is None:
        return wire
    if wire.nbytes % kind.dtype.itemsize:
        raise ValidationError(
            f"The TensorProto's {kind.values_field} holds {wire.size} numbers; "
            f"{kind.dtype} values travel as (real, imaginary) pairs."
        )
    return wire.view(kind.dtype)


def _field_array(message: Any, field_name: str, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """A repeated field's values as ``dtype``, refusing values that do not fit it.

    The narrow integer types (int8, uint8, int16, uint16, and half floats' bit patterns) travel in
    int32 fields, and numpy would silently wrap 300 to 44 when converting.
    """
    values = np.array(getattr(message, field_name), dtype=_FIELD_DTYPES[field_name])
    if values.dtype == dtype:
        return values
    if dtype.kind in "iu" and values.size:
        limits = np.iinfo(dtype)
        low, high = values.min(), values.max()
        if low < limits.min or high > limits.max:
            bad = low if low < limits.min else high
            raise ValidationError(f"The TensorProto's {field_name} holds {bad}, which does not fit {dtype}.")
    return values.astype(dtype)


def _bfloat16(message: Any, shape: tuple[int, ...], count: int) -> npt.NDArray[np.float32]:
    """numpy has no bfloat16; its 16 bits are the top half of a float32, so widen to that exactly."""
    if message.tensor_content:
        bits = _from_content(message.tensor_content, np.dtype(np.uint16), shape, count)
    else:
        bits = _fill(_field_array(message, "half_val", np.dtype(np.uint16)), shape, count)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _fill(values: npt.NDArray[Any], shape: tuple[int, ...], count: int) -> npt.NDArray[Any]:
    # The shape was checked against the decoding limit before this: filling it is bounded.
    if values.size == count:
        return values.reshape(shape)
    if values.size == 0:
        return np.full(shape, b"" if values.dtype.hasobject else 0, dtype=values.dtype)
    if values.size < count:
        padding = np.repeat(values[-1:], count - values.size)
        return np.concatenate([values, padding]).reshape(shape)
    raise ValidationError(
        f"The TensorProto holds {values.size} values, but its shape {list(shape)} has room for {count}."
    )


def to_message(obj: Any) -> Any:
    """``obj`` (array, tensor, list, scalar) as a ``TensorProto`` message."""
    array = _to_array(obj)
    message = TensorProto()
    for size in array.shape:
        message.tensor_shape.dim.add(size=size)
    if array.dtype.kind in "USO":
        message.dtype = DataType.DT_STRING
        message.string_val.extend(_as_bytes(value) for value in array.ravel().tolist())
        return message
    kind = _BY_DTYPE.get(array.dtype.newbyteorder("="))
    if kind is None:
        raise ValidationError(
            f"Cannot write a {describe(array)} as a TensorProto; convert it to one of: {_SUPPORTED_DTYPES}."
        )
    message.dtype = kind.data_type
    message.tensor_content = array.astype(kind.dtype.newbyteorder("<"), copy=False).tobytes()
    return message


def encode(obj: Any) -> bytes:
    """``obj`` as a serialized ``TensorProto``."""
    return bytes(to_message(obj).SerializeToString())


def _to_array(obj: Any) -> npt.NDArray[Any]:
    array = as_numpy(obj)
    if array is not None:
        return array
    if isinstance(obj, dict):
        raise ValidationError(
            "A TensorProto holds one tensor, not a mapping; send an array, or use application/x-npz."
        )
    try:
        array = np.asarray(obj)
    except ValueError as e:
        raise ValidationError(f"Cannot turn a {describe(obj)} into a tensor ({e}).") from e
    if array.dtype.kind in "SU":
        # numpy's string dtypes drop trailing NUL bytes (and turn bytes mixed with str into str); an
        # object array keeps each value exactly.
        return np.array(obj, dtype=object)
    # Python numbers become float32 / int32 tensors, as tf.make_tensor_proto makes them.
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64 and array.size and _INT32.min <= array.min() and array.max() <= _INT32.max:
        return array.astype(np.int32)
    return array


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ValidationError(
        f"A TensorProto of strings holds only str or bytes, not {type(value).__name__}; "
        "convert the array to a numeric dtype or to strings."
    )
