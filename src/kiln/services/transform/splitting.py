"""An input object cut into records (SplitType) and the records grouped into requests (BatchStrategy).

``Line``: one record per line (``\\n``, a ``\\r`` before it dropped); ``RecordIO``: MXNet RecordIO
records, each sent whole with its header as SageMaker does; ``None``: the whole object is one record.
``MultiRecord`` puts as many records in a request as fit in MaxPayloadInMB; ``SingleRecord`` one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Batch", "RecordTooLarge", "batches", "join_records_body", "split_records"]

_RECORDIO_MAGIC = 0xCED7230A
_RECORDIO_HEAD = struct.Struct("<II")  # magic, then flag (3 high bits) and length (29 low bits)


class RecordTooLarge(ValueError):
    """A single record is larger than MaxPayloadInMB."""


@dataclass(frozen=True)
class Batch:
    first: int  # the index of its first record in the object (0-based)
    records: list[bytes]


def _split_recordio(data: bytes) -> list[bytes]:
    records = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _RECORDIO_HEAD.size:
            raise ValueError(f"a RecordIO header is cut short at byte {offset}")
        magic, word = _RECORDIO_HEAD.unpack_from(data, offset)
        if magic != _RECORDIO_MAGIC:
            raise ValueError(f"no RecordIO magic number at byte {offset}; is the object RecordIO?")
        length = word & ((1 << 29) - 1)
        end = offset + _RECORDIO_HEAD.size + length
        if end > len(data):
            raise ValueError(
                f"the RecordIO record at byte {offset} claims {length} bytes past the object's end"
            )
        end += -length % 4  # records are padded to four bytes
        records.append(data[offset:end])
        offset = end
    return records


def split_records(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()  # the newline that ends the last line starts no record
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if split_type == "RecordIO":
        return _split_recordio(data)
    return [data] if data else []


def join_records_body(records: list[bytes], split_type: str) -> bytes:
    """The request body of several records: lines joined by newlines, RecordIO records back to back."""
    if split_type == "Line":
        return b"\n".join(records)
    return b"".join(records)


def batches(records: list[bytes], strategy: str, max_payload_bytes: int) -> Iterator[Batch]:
    if strategy == "SingleRecord":
        for index, record in enumerate(records):
            if len(record) > max_payload_bytes:
                raise RecordTooLarge(f"record {index + 1} has {len(record)} bytes")
            yield Batch(index, [record])
        return
    start, size = 0, 0
    for index, record in enumerate(records):
        length = len(record) + 1
        if length > max_payload_bytes:
            raise RecordTooLarge(f"record {index + 1} has {len(record)} bytes")
        if size + length > max_payload_bytes:
            yield Batch(start, records[start:index])
            start, size = index, 0
        size += length
    if start < len(records):
        yield Batch(start, records[start:])
