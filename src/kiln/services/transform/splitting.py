"""An input object cut into records (SplitType) and the records grouped into requests (BatchStrategy).

``Line``: one record per line (``\\n``, a ``\\r`` before it dropped); ``RecordIO``: MXNet RecordIO
records, each sent whole with its header as SageMaker does; ``None``: the whole object is one record.
``MultiRecord`` puts as many records in a request as fit in MaxPayloadInMB; ``SingleRecord`` one.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Batch", "RecordTooLarge", "batches", "join_records_body", "line_batches", "split_records"]

_RECORDIO_MAGIC = 0xCED7230A
_RECORDIO_HEAD = struct.Struct("<II")  # magic, then flag (3 high bits) and length (29 low bits)


class RecordTooLarge(ValueError):
    """A single record is larger than MaxPayloadInMB."""


@dataclass(frozen=True)
class Batch:
    """One request's records: the index of the first in its object (0-based), how many, the body."""

    first: int
    count: int
    body: bytes
    split_type: str

    def records(self) -> list[bytes]:
        """The records again (only a request the model rejects needs them, to find the culprit)."""
        if self.split_type == "Line":
            return split_records(self.body + b"\n", "Line")
        return split_records(self.body, self.split_type)


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


def batches(records: list[bytes], strategy: str, max_payload_bytes: int, split_type: str) -> Iterator[Batch]:
    if strategy == "SingleRecord":
        for index, record in enumerate(records):
            if len(record) > max_payload_bytes:
                raise RecordTooLarge(f"record {index + 1} has {len(record)} bytes")
            yield Batch(index, 1, record, split_type)
        return
    start, size = 0, 0  # size: the body so far with a separator after each record
    for index, record in enumerate(records):
        length = len(record) + 1
        if len(record) > max_payload_bytes:
            raise RecordTooLarge(f"record {index + 1} has {len(record)} bytes")
        if size + length - 1 > max_payload_bytes:  # the last record needs no separator
            yield Batch(start, index - start, join_records_body(records[start:index], split_type), split_type)
            start, size = index, 0
        size += length
    if start < len(records):
        yield Batch(start, len(records) - start, join_records_body(records[start:], split_type), split_type)


def line_batches(data: bytes, max_payload_bytes: int) -> Iterator[Batch]:
    """MultiRecord batches of a Line-split object cut straight out of its bytes (at the last newline
    that fits), with no list of records: the same requests ``batches`` makes, at a fraction of the
    cost, for a job that needs no record on its own (no filter, no join)."""
    if data.endswith(b"\n"):
        data = data[:-1]
    position, first, size = 0, 0, len(data)
    while position < size:
        end = position + max_payload_bytes
        if end >= size:
            cut = size
        else:
            cut = data.rfind(b"\n", position, end + 1)
            if cut < 0:
                length = data.find(b"\n", position)
                length = (size if length < 0 else length) - position
                raise RecordTooLarge(f"record {first + 1} has {length} bytes")
        body = data[position:cut]
        count = body.count(b"\n") + 1
        yield Batch(first, count, body, "Line")
        first += count
        position = cut + 1
