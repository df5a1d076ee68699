"""DataProcessing: SageMaker's InputFilter, JoinSource and OutputFilter, applied record by record.

A filter is a JSONPath expression (jsonpath-ng parses and evaluates it) over a record seen as JSON:
a CSV record is the list of its columns, a JSON or JSON Lines record the value it holds. As SageMaker
documents, a slice or a list of indices selects a list (``$[1:]``, ``$[0,2]``), a list of keys an
object (``$['id','SageMakerOutput']``), and one index or key the value itself (``$.features``).
JoinSource ``Input`` puts each input record beside its output: CSV columns joined by a comma, a JSON
object gains ``SageMakerOutput``, a JSON list gets the output appended.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import Index, JSONPath, Slice
from jsonpath_ng.exceptions import JsonPathParserError
from jsonpath_ng.ext.parser import parse
from jsonpath_ng.jsonpath import Child, Fields, Root

from kiln.errors import ValidationError

__all__ = ["RecordFilter", "RecordFormat", "RecordRejected", "compile_filter", "join_records"]

OUTPUT_KEY = "SageMakerOutput"  # where SageMaker puts a JSON record's output when it joins


class RecordRejected(ValueError):
    """A record the filter or join cannot read (say, a CSV line given a JSON filter)."""


@dataclass(frozen=True)
class RecordFormat:
    """How a record's bytes become a JSON value and back: CSV (a list of columns) or JSON."""

    csv: bool

    @classmethod
    def of(cls, content_type: str | None) -> RecordFormat:
        return cls(csv=(content_type or "").split(";")[0].strip().lower() == "text/csv")

    def load(self, record: bytes) -> Any:
        text = record.decode("utf-8").rstrip("\r\n")
        if self.csv:
            return next(csv.reader([text]), [])
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise RecordRejected(f"not JSON ({e})") from e

    def dump(self, value: Any) -> bytes:
        if self.csv:
            cells = value if isinstance(value, list) else [value]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(
                [json.dumps(c) if isinstance(c, (dict, list)) else c for c in cells]
            )
            return buffer.getvalue().encode("utf-8")
        return json.dumps(value).encode("utf-8")


def _selects_many(path: JSONPath) -> bool:
    last = path.right if isinstance(path, Child) else path
    if isinstance(last, Slice):
        return True
    if isinstance(last, Index):
        return len(last.indices) > 1
    if isinstance(last, Fields):
        return len(last.fields) > 1
    return False


@dataclass(frozen=True)
class RecordFilter:
    expression: str
    path: JSONPath

    def apply(self, value: Any) -> Any:
        if isinstance(self.path, Root):
            return value
        matches = self.path.find(value)
        last = self.path.right if isinstance(self.path, Child) else self.path
        if isinstance(last, Fields) and len(last.fields) > 1:
            return {str(m.path.fields[0]): m.value for m in matches}  # type: ignore[attr-defined]
        if _selects_many(self.path):
            return [m.value for m in matches]
        if not matches:
            raise RecordRejected(f"{self.expression} selects nothing in {json.dumps(value)[:200]}")
        return matches[0].value


def compile_filter(expression: str | None, field: str) -> RecordFilter | None:
    """The filter ``expression`` names, None for none or ``$`` (the whole record)."""
    if expression is None or expression.strip() in ("", "$"):
        return None
    try:
        path = parse(expression)
    except (JsonPathParserError, Exception) as e:
        raise ValidationError(
            f"{field} {expression!r} is not a JSONPath expression SageMaker accepts ({e}); "
            "use forms such as $, $[1:], $[0,2], $.features or $['id','SageMakerOutput']"
        ) from e
    return RecordFilter(expression, path)


def join_records(source: Any, output: Any, fmt: RecordFormat) -> Any:
    """The input record ``source`` with its ``output`` beside it (JoinSource Input)."""
    if fmt.csv:
        columns = list(source) if isinstance(source, list) else [source]
        return columns + (output if isinstance(output, list) else [output])
    if isinstance(source, dict):
        return {**source, OUTPUT_KEY: output}
    if isinstance(source, list):
        return [*source, output]
    raise RecordRejected(f"a JSON input record must be an object or a list to be joined, not {source!r}")
