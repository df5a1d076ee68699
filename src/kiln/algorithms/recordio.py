"""SageMaker's RecordIO-protobuf: the ``aialgs.data.Record`` message inside RecordIO framing.

The message classes are built from a descriptor declared in code (as ``kiln.codecs._tensor_proto_schema``
does for TensorProto): package ``aialgs.data``, the field numbers and types of the SDK's
``amazon/record.proto``, so the bytes are those ``sagemaker.amazon.common.write_numpy_to_dense_tensor``
writes and the first-party algorithms read. The protobuf library does the encoding.

Framing (dmlc-core's RecordIO as SageMaker uses it): per record a little-endian ``uint32`` magic
``0xCED7230A``, a ``uint32`` whose low 29 bits are the payload length (the top 3 bits a part flag, 0
for a whole record), the payload, and zero padding to a 4-byte boundary.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from kiln.errors import ValidationError

__all__ = ["CONTENT_TYPE", "Record", "decode_records", "encode_records", "read_matrix", "write_matrix"]

CONTENT_TYPE = "application/x-recordio-protobuf"
MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
_Field = descriptor_pb2.FieldDescriptorProto


def _field(
    message: Any,
    name: str,
    number: int,
    kind: int,
    *,
    repeated: bool = False,
    type_name: str = "",
    packed: bool = False,
    oneof: int | None = None,
) -> None:
    field = message.field.add(name=name, number=number, type=kind)
    field.label = _Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name
    if packed:
        field.options.packed = True
    if oneof is not None:
        field.oneof_index = oneof


def _record_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="kiln/algorithms/record.proto", package="aialgs.data", syntax="proto2"
    )
    for name, kind in (
        ("Float32Tensor", _Field.TYPE_FLOAT),
        ("Float64Tensor", _Field.TYPE_DOUBLE),
        ("Int32Tensor", _Field.TYPE_INT32),
    ):
        tensor = file.message_type.add(name=name)
        _field(tensor, "values", 1, kind, repeated=True, packed=True)
        _field(tensor, "keys", 2, _Field.TYPE_UINT64, repeated=True, packed=True)
        _field(tensor, "shape", 3, _Field.TYPE_UINT64, repeated=True, packed=True)
    raw = file.message_type.add(name="Bytes")
    _field(raw, "value", 1, _Field.TYPE_BYTES, repeated=True)
    _field(raw, "content_type", 2, _Field.TYPE_STRING)
    value = file.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    _field(value, "float32_tensor", 2, _Field.TYPE_MESSAGE, type_name=".aialgs.data.Float32Tensor", oneof=0)
    _field(value, "float64_tensor", 3, _Field.TYPE_MESSAGE, type_name=".aialgs.data.Float64Tensor", oneof=0)
    _field(value, "int32_tensor", 7, _Field.TYPE_MESSAGE, type_name=".aialgs.data.Int32Tensor", oneof=0)
    _field(value, "bytes", 9, _Field.TYPE_MESSAGE, type_name=".aialgs.data.Bytes", oneof=0)
    record = file.message_type.add(name="Record")
    for map_name, number in (("features", 1), ("label", 2)):
        entry = record.nested_type.add(name=f"{map_name.capitalize()}Entry")
        entry.options.map_entry = True
        _field(entry, "key", 1, _Field.TYPE_STRING)
        _field(entry, "value", 2, _Field.TYPE_MESSAGE, type_name=".aialgs.data.Value")
        _field(
            record,
            map_name,
            number,
            _Field.TYPE_MESSAGE,
            repeated=True,
            type_name=f".aialgs.data.Record.{map_name.capitalize()}Entry",
        )
    _field(record, "uid", 3, _Field.TYPE_STRING)
    _field(record, "metadata", 4, _Field.TYPE_STRING)
    _field(record, "configuration", 5, _Field.TYPE_STRING)
    return file


def _record_class() -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_record_file())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("aialgs.data.Record"))


# Built at import by the protobuf library, so to mypy it is Any.
Record: Any = _record_class()


def encode_records(records: list[Any]) -> bytes:
    """Frame serialized Records one after another."""
    out = bytearray()
    for record in records:
        payload = record.SerializeToString()
        out += struct.pack("<II", MAGIC, len(payload))
        out += payload
        out += b"\x00" * (-len(payload) % 4)
    return bytes(out)


def decode_records(data: bytes, what: str = "the body") -> Iterator[Any]:
    """The Records framed in ``data``; ValidationError naming the byte offset of a broken frame."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < 8:
            raise ValidationError(
                f"{what} is not RecordIO-protobuf: {len(data) - offset} stray byte(s) at offset {offset}"
            )
        magic, word = struct.unpack_from("<II", data, offset)
        if magic != MAGIC:
            raise ValidationError(
                f"{what} is not RecordIO-protobuf: expected the magic number 0xced7230a at byte {offset}, "
                f"found {magic:#010x}; write it with kiln's record_set() or sagemaker.amazon.common."
                "write_numpy_to_dense_tensor, or send text/csv"
            )
        length = word & _LENGTH_MASK
        start, end = offset + 8, offset + 8 + length
        if end > len(data):
            raise ValidationError(
                f"{what}: the record at byte {offset} is cut short ({length} bytes declared)"
            )
        record = Record()
        try:
            record.ParseFromString(data[start:end])
        except DecodeError as e:
            raise ValidationError(f"{what}: the record at byte {offset} is not a Record message ({e})") from e
        yield record
        offset = end + (-length % 4)


def _tensor_values(value: Any, width: int | None) -> np.ndarray:
    kind = value.WhichOneof("value")
    if kind not in ("float32_tensor", "float64_tensor", "int32_tensor"):
        raise ValidationError(f"a Record value holds {kind or 'nothing'}; numeric tensors are expected")
    tensor = getattr(value, kind)
    values = np.asarray(tensor.values, dtype=np.float64)
    if len(tensor.keys) == 0:
        return values
    size = int(tensor.shape[0]) if len(tensor.shape) else width
    if size is None:
        raise ValidationError("a sparse Record tensor has keys but no shape; give shape=[feature_dim]")
    dense = np.zeros(size, dtype=np.float64)
    dense[np.asarray(tensor.keys, dtype=np.int64)] = values
    return dense


def read_matrix(data: bytes, what: str = "the body") -> tuple[np.ndarray, np.ndarray | None]:
    """(features, labels or None) of the Records in ``data``: the ``values`` entries of each map."""
    rows: list[np.ndarray] = []
    labels: list[float] = []
    for index, record in enumerate(decode_records(data, what)):
        if "values" not in record.features:
            raise ValidationError(f"{what}: record {index} has no features['values'] tensor")
        rows.append(_tensor_values(record.features["values"], rows[0].size if rows else None))
        if "values" in record.label:
            labels.append(float(_tensor_values(record.label["values"], 1)[0]))
    if rows and len({r.size for r in rows}) > 1:
        raise ValidationError(
            f"{what}: records have different feature counts ({sorted({r.size for r in rows})})"
        )
    if labels and len(labels) != len(rows):
        raise ValidationError(f"{what}: {len(rows) - len(labels)} record(s) have no label; label all or none")
    features = np.vstack(rows) if rows else np.zeros((0, 0))
    return features, (np.asarray(labels) if labels else None)


def write_matrix(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """Dense float32 Records, one per row (``write_numpy_to_dense_tensor`` with float32 input)."""
    records = []
    matrix = np.asarray(features, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValidationError(f"features must be a 2-D array, not shape {matrix.shape}")
    for index, row in enumerate(matrix):
        record = Record()
        record.features["values"].float32_tensor.values.extend(row.tolist())
        if labels is not None:
            record.label["values"].float32_tensor.values.append(float(labels[index]))
        records.append(record)
    return encode_records(records)


def label_records(outputs: list[dict[str, Any]]) -> bytes:
    """Inference answers as Records: each key of each row a float32 ``label`` tensor (SageMaker's)."""
    records = []
    for row in outputs:
        record = Record()
        for key, value in row.items():
            values = value if isinstance(value, list) else [value]
            record.label[key].float32_tensor.values.extend(float(v) for v in values)
        records.append(record)
    return encode_records(records)
