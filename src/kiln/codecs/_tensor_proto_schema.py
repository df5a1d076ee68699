"""TensorFlow's ``TensorProto`` message, declared in code so that Kiln never depends on TensorFlow.

The declaration mirrors ``tensorflow/core/framework/{tensor,tensor_shape,types}.proto``: the same
package (``tensorflow``), message names, field numbers and types, so the bytes are interchangeable
with ``tensorflow.core.framework.tensor_pb2.TensorProto``. The protobuf library does the encoding; the
classes live in a private descriptor pool so they never clash with TensorFlow's own copy of the same
names when both are imported into one process.

Left out: ``resource_handle_val`` (14), ``variant_val`` (15) and ``float8_val`` (18). They never carry
model inputs or outputs; a message that holds them still parses (they are kept as unknown fields).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

__all__ = ["DATA_TYPE_NAMES", "DataType", "TensorProto", "TensorShapeProto"]

_Field = descriptor_pb2.FieldDescriptorProto


class DataType:
    """The ``tensorflow.DataType`` numbers Kiln reads or writes (``types.proto``)."""

    DT_INVALID = 0
    DT_FLOAT = 1
    DT_DOUBLE = 2
    DT_INT32 = 3
    DT_UINT8 = 4
    DT_INT16 = 5
    DT_INT8 = 6
    DT_STRING = 7
    DT_COMPLEX64 = 8
    DT_INT64 = 9
    DT_BOOL = 10
    DT_QINT8 = 11
    DT_QUINT8 = 12
    DT_QINT32 = 13
    DT_BFLOAT16 = 14
    DT_QINT16 = 15
    DT_QUINT16 = 16
    DT_UINT16 = 17
    DT_COMPLEX128 = 18
    DT_HALF = 19
    DT_RESOURCE = 20
    DT_VARIANT = 21
    DT_UINT32 = 22
    DT_UINT64 = 23


DATA_TYPE_NAMES: dict[int, str] = {
    number: name for name, number in vars(DataType).items() if name.startswith("DT_")
}

# (name, number, type, repeated, message or enum type) in the order tensor.proto declares them.
_TENSOR_FIELDS: tuple[tuple[str, int, int, bool, str], ...] = (
    ("dtype", 1, _Field.TYPE_ENUM, False, ".tensorflow.DataType"),
    ("tensor_shape", 2, _Field.TYPE_MESSAGE, False, ".tensorflow.TensorShapeProto"),
    ("version_number", 3, _Field.TYPE_INT32, False, ""),
    ("tensor_content", 4, _Field.TYPE_BYTES, False, ""),
    ("half_val", 13, _Field.TYPE_INT32, True, ""),
    ("float_val", 5, _Field.TYPE_FLOAT, True, ""),
    ("double_val", 6, _Field.TYPE_DOUBLE, True, ""),
    ("int_val", 7, _Field.TYPE_INT32, True, ""),
    ("string_val", 8, _Field.TYPE_BYTES, True, ""),
    ("scomplex_val", 9, _Field.TYPE_FLOAT, True, ""),
    ("int64_val", 10, _Field.TYPE_INT64, True, ""),
    ("bool_val", 11, _Field.TYPE_BOOL, True, ""),
    ("dcomplex_val", 12, _Field.TYPE_DOUBLE, True, ""),
    ("uint32_val", 16, _Field.TYPE_UINT32, True, ""),
    ("uint64_val", 17, _Field.TYPE_UINT64, True, ""),
)


def _add_field(
    message: descriptor_pb2.DescriptorProto,
    name: str,
    number: int,
    field_type: int,
    repeated: bool = False,
    type_name: str = "",
) -> None:
    field = message.field.add(name=name, number=number, type=field_type)
    field.label = _Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name
    if repeated and field_type != _Field.TYPE_BYTES:
        field.options.packed = True  # as tensor.proto says; parsers accept unpacked values either way


def _tensor_file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(
        name="kiln/codecs/tensorflow_tensor.proto", package="tensorflow", syntax="proto3"
    )
    data_type = file.enum_type.add(name="DataType")
    for number, name in sorted(DATA_TYPE_NAMES.items()):
        data_type.value.add(name=name, number=number)

    shape = file.message_type.add(name="TensorShapeProto")
    dim = shape.nested_type.add(name="Dim")
    _add_field(dim, "size", 1, _Field.TYPE_INT64)
    _add_field(dim, "name", 2, _Field.TYPE_STRING)
    _add_field(
        shape, "dim", 2, _Field.TYPE_MESSAGE, repeated=True, type_name=".tensorflow.TensorShapeProto.Dim"
    )
    _add_field(shape, "unknown_rank", 3, _Field.TYPE_BOOL)

    tensor = file.message_type.add(name="TensorProto")
    for name, number, field_type, repeated, type_name in _TENSOR_FIELDS:
        _add_field(tensor, name, number, field_type, repeated, type_name)
    return file


def _message_classes() -> tuple[Any, Any]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(_tensor_file())
    tensor = message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.TensorProto"))
    shape = message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.TensorShapeProto"))
    return tensor, shape


# The generated classes; protobuf builds them at run time, so to mypy they are Any.
TensorProto, TensorShapeProto = _message_classes()
