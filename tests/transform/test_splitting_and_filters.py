"""Records cut out of objects (SplitType, BatchStrategy) and SageMaker's JSONPath filters and joins."""

from __future__ import annotations

import struct

import pytest

from kiln.errors import ValidationError
from kiln.services.transform.filters import RecordFormat, compile_filter, join_records
from kiln.services.transform.splitting import RecordTooLarge, batches, line_batches, split_records


def _recordio(payload: bytes) -> bytes:
    header = struct.pack("<II", 0xCED7230A, len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


def test_recordio_records_keep_their_headers_and_padding() -> None:
    records = [_recordio(b"a"), _recordio(b"four"), _recordio(b"seven!!")]
    assert split_records(b"".join(records), "RecordIO") == records
    with pytest.raises(ValueError, match="no RecordIO magic number at byte 0"):
        split_records(b"not recordio", "RecordIO")


def test_lines_none_and_crlf() -> None:
    assert split_records(b"a\r\nb\n\nc", "Line") == [b"a", b"b", b"", b"c"]
    assert split_records(b"whole\nobject\n", "None") == [b"whole\nobject\n"]
    assert split_records(b"", "None") == []


@pytest.mark.parametrize("payload", [10, 25, 1000])
def test_cutting_bytes_makes_the_same_requests_as_batching_records(payload: int) -> None:
    data = b"".join(f"{i},{i * 7 % 13}\n".encode() for i in range(200))
    by_records = list(batches(split_records(data, "Line"), "MultiRecord", payload, "Line"))
    by_bytes = list(line_batches(data, payload))
    assert [(b.first, b.count, b.body) for b in by_bytes] == [(b.first, b.count, b.body) for b in by_records]
    assert sum(b.count for b in by_bytes) == 200
    assert all(len(b.body) <= payload for b in by_bytes)
    assert by_bytes[-1].records()[-1] == b"199,2"


def test_a_record_over_the_payload_is_named() -> None:
    with pytest.raises(RecordTooLarge, match="record 2 has 12 bytes"):
        list(line_batches(b"1,2\n123456789012\n3\n", 10))
    with pytest.raises(RecordTooLarge, match="record 1 has 6 bytes"):
        list(batches([b"123456"], "SingleRecord", 5, "Line"))


def test_filters_select_as_sagemaker_documents() -> None:
    csv = RecordFormat.of("text/csv")
    row = csv.load(b'id7,1.5,"a,b",3\r\n')
    assert row == ["id7", "1.5", "a,b", "3"]

    def run(expression: str, value: object) -> object:
        compiled = compile_filter(expression, "InputFilter")
        return value if compiled is None else compiled.apply(value)

    assert run("$", row) == row
    assert run("$[1:]", row) == ["1.5", "a,b", "3"]
    assert run("$[0,2]", row) == ["id7", "a,b"]
    assert run("$[-1]", row) == "3"
    assert csv.dump(run("$[1:]", row)) == b'1.5,"a,b",3'
    record = {"id": 1, "features": [1, 2], "SageMakerOutput": 0.5}
    assert run("$.features", record) == [1, 2]
    assert run("$['id','SageMakerOutput']", record) == {"id": 1, "SageMakerOutput": 0.5}
    with pytest.raises(ValidationError, match=r"OutputFilter '\$\[\[' is not a JSONPath"):
        compile_filter("$[[", "OutputFilter")


def test_joins_put_the_output_beside_the_input() -> None:
    csv, json_format = RecordFormat.of("text/csv"), RecordFormat.of("application/jsonlines")
    assert csv.dump(join_records(["a", "1"], ["0.5"], csv)) == b"a,1,0.5"
    assert join_records({"id": 1}, 0.5, json_format) == {"id": 1, "SageMakerOutput": 0.5}
    assert join_records([1, 2], 0.5, json_format) == [1, 2, 0.5]
