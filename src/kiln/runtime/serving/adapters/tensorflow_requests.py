"""TF Serving's request rules as SageMaker's TensorFlow Serving container applies them, without TensorFlow.

The container's front end (``tensorflowServing.js``) rewrites what it receives before TF Serving sees
it, and Kiln does the same:

* JSON already in TF Serving's shape (it names ``instances``, ``inputs`` or ``examples``) passes as is;
* JSON Lines (objects or arrays one after another) become ``{"instances": [line, line, …]}``;
* other JSON becomes ``{"instances": [body]}``, or ``{"instances": body}`` when it is a list of lists;
* CSV becomes ``{"instances": [[row], …]}`` (one value per line stays unwrapped; non-numeric first
  fields are quoted as strings);
* ``X-Amzn-SageMaker-Custom-Attributes`` ``tfs-model-name=…``, ``tfs-model-version=…``,
  ``tfs-method=…`` choose the model, its version and the method (``predict`` only, here).

The request body then holds ``signature_name`` (default ``serving_default``) and either ``instances``
(row format: the answer is ``{"predictions": …}``) or ``inputs`` (columnar: ``{"outputs": …}``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from kiln import codecs
from kiln.codecs import content_types
from kiln.errors import UnsupportedMediaType, ValidationError

__all__ = [
    "DEFAULT_SIGNATURE",
    "TfsRequest",
    "parse_custom_attributes",
    "parse_tfs_body",
    "rewrite_to_tfs_json",
]

DEFAULT_SIGNATURE = "serving_default"
_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+)=([^,]+)")
_TFS_JSON = re.compile(r'"(instances|inputs|examples)"\s*:')
_JSON_LINES = re.compile(r"[}\]]\s*[\[{]")
_CSV_NEEDS_NO_QUOTES = re.compile(r'^\s*("|[\d.Ee+\-]+.*)')
JSON_TYPES = (content_types.JSON, content_types.JSONLINES)


@dataclass(frozen=True)
class TfsRequest:
    """One predict request for TF Serving: which model, version and signature, and its inputs."""

    model_name: str | None  # None: the archive's default model
    version: str | None  # None: the newest version
    signature_name: str
    columnar: bool  # "inputs" (answered with "outputs") rather than "instances"
    inputs: Any


def parse_custom_attributes(header: str | None) -> dict[str, str]:
    """The ``tfs-*`` attributes in ``X-Amzn-SageMaker-Custom-Attributes`` (others are ignored)."""
    return {key: value.strip() for key, value in _ATTRIBUTE.findall(header or "")}


def rewrite_to_tfs_json(body: bytes, content_type: str) -> str | None:
    """The body as TF Serving JSON, as the container rewrites it; None for a type it does not rewrite."""
    media_type = codecs.canonical_content_type(content_type)
    if media_type not in (*JSON_TYPES, content_types.CSV):
        return None
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError(f"The {media_type} body is not UTF-8 text ({e}).") from e
    if media_type == content_types.CSV:
        return _csv_instances(text)
    if _TFS_JSON.search(text):
        return text
    if _JSON_LINES.search(text):
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        return '{"instances":' + ("[" + ",".join(lines) + "]" if len(lines) != 1 else lines[0]) + "}"
    if not re.match(r"^\s*\[\s*\[", text):
        text = "[" + text + "]"
    return '{"instances":' + text + "}"


def _csv_instances(text: str) -> str:
    needs_quotes = _CSV_NEEDS_NO_QUOTES.search(text) is None
    rows = []
    for line in (line.strip() for line in text.strip().splitlines()):
        if not line:
            continue
        cells = ",".join(json.dumps(cell) for cell in line.split(",")) if needs_quotes else line
        rows.append(f"[{cells}]" if "," in line else cells)
    return '{"instances":[' + ",".join(rows) + "]}"


def parse_tfs_body(text: str | bytes, attributes: dict[str, str]) -> TfsRequest:
    """A TF Serving JSON request body (what ``input_handler`` returns, or the rewritten request)."""
    method = attributes.get("tfs-method", "predict")
    if method != "predict":
        raise ValidationError(
            f"tfs-method={method} is not served by Kiln (only predict, TF Serving's REST default); "
            "drop tfs-method from the custom attributes."
        )
    try:
        body = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"The request is not valid JSON: {e}.") from e
    if not isinstance(body, dict):
        raise ValidationError(
            'TF Serving expects a JSON object: {"instances": [...]} or {"inputs": ...}; '
            f"got a {type(body).__name__}."
        )
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances == has_inputs:
        what = "both" if has_instances else "neither"
        raise ValidationError(
            f"Missing 'inputs' or 'instances' key: the request has {what}; send exactly one of "
            '{"instances": [...]} (row format) or {"inputs": ...} (columnar).'
        )
    return TfsRequest(
        model_name=attributes.get("tfs-model-name"),
        version=attributes.get("tfs-model-version"),
        signature_name=str(body.get("signature_name") or DEFAULT_SIGNATURE),
        columnar=has_inputs,
        inputs=body["inputs"] if has_inputs else body["instances"],
    )


def check_json_like(content_type: str) -> None:
    """The container answers 415 to anything but JSON, JSON Lines and CSV; Kiln adds its array types."""
    if codecs.canonical_content_type(content_type) not in codecs.SUPPORTED_REQUEST_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported Media Type: {content_type}; send application/json, application/jsonlines "
            "or text/csv (or one of Kiln's array types: application/x-npy, application/x-protobuf)."
        )
