"""S3's XML bodies: answers rendered from nested ``(tag, value)`` pairs, requests parsed leniently.

S3 answers in the 2006-03-01 namespace; requests arrive with or without it (botocore sends it, other
clients don't), so parsing drops namespaces and matches local tag names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TypeAlias

from kiln.server.wire.s3.errors import S3Error

__all__ = ["NAMESPACE", "Node", "child_text", "children", "iso_time", "parse_xml", "render_xml"]

NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_REQUEST_XML_BYTES = 2 << 20  # DeleteObjects: 1,000 keys of up to 1,024 bytes each, with markup

Value: TypeAlias = "str | int | bool | datetime | Sequence[Node] | None"
Node: TypeAlias = "tuple[str, Value]"


def iso_time(moment: datetime) -> str:
    """S3's XML timestamps: ISO 8601 in UTC with milliseconds (``2026-12-04T15:30:00.000Z``)."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _fill(parent: ET.Element, nodes: Sequence[Node]) -> None:
    for tag, value in nodes:
        if value is None:
            continue
        element = ET.SubElement(parent, tag)
        if isinstance(value, bool):
            element.text = "true" if value else "false"
        elif isinstance(value, datetime):
            element.text = iso_time(value)
        elif isinstance(value, (str, int)):
            element.text = str(value)
        else:
            _fill(element, value)


def render_xml(root: str, nodes: Sequence[Node], *, namespace: bool = True) -> bytes:
    element = ET.Element(root, {"xmlns": NAMESPACE} if namespace else {})
    _fill(element, nodes)
    rendered: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return rendered


def parse_xml(body: bytes, root: str) -> ET.Element:
    """The request body's ``root`` element, namespaces stripped; MalformedXML when it is not that."""
    if not body.strip():
        raise S3Error.malformed_xml(f"the request has no body; expected a <{root}> document")
    try:
        element = ET.fromstring(body)
    except ET.ParseError as e:
        raise S3Error.malformed_xml(str(e)) from e
    for node in element.iter():
        if isinstance(node.tag, str) and "}" in node.tag:
            node.tag = node.tag.split("}", 1)[1]
    if element.tag != root:
        raise S3Error.malformed_xml(f"the document's root is <{element.tag}>, expected <{root}>")
    return element


def children(element: ET.Element, tag: str) -> list[ET.Element]:
    return [child for child in element if child.tag == tag]


def child_text(element: ET.Element, tag: str) -> str | None:
    for child in element:
        if child.tag == tag:
            return child.text or ""
    return None
