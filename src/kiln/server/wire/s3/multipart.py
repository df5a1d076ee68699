"""Multipart uploads, staged in the store's hidden folder until they are completed or aborted.

An upload is a folder ``<root>/.kiln-tmp-s3/uploads/<upload id>/`` holding ``upload.json`` (bucket,
key, attributes, checksum algorithm) and, per part, a data file with a unique name written by the
store's atomic write, then ``part-<n>.json`` naming it. The record is renamed into place last, so two
concurrent uploads of the same part number each leave a consistent (record, data) pair and the later
one wins, as on S3. Completing concatenates the chosen parts into the object (one more atomic write)
and removes the folder; the object's ETag is the MD5 of the parts' binary MD5s, then ``-<count>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.errors import NotFound
from kiln.server.wire.s3.errors import S3Error
from kiln.server.wire.s3.objects import BucketStore, ObjectAttributes, ObjectHead

__all__ = ["MIN_PART_BYTES", "MultipartStaging", "Part", "RequestedPart", "Upload"]

MIN_PART_BYTES = 5 << 20  # S3: every part but the last has at least 5 MiB
MAX_PART_NUMBER = 10_000
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Upload:
    upload_id: str
    bucket: str
    key: str
    initiated: datetime
    attributes: ObjectAttributes
    checksum_algorithm: str | None


@dataclass(frozen=True)
class Part:
    number: int
    etag: str  # quoted
    size: int
    modified: datetime
    data_uri: str
    checksum: tuple[str, str] | None


@dataclass(frozen=True)
class RequestedPart:
    """One ``<Part>`` of a CompleteMultipartUpload request."""

    number: int
    etag: str
    checksums: dict[str, str]  # algorithm → base64, where the client sent them


class MultipartStaging:
    """The uploads in flight. Blocking: call it from a worker thread."""

    def __init__(self, objects: BucketStore) -> None:
        self.objects = objects
        self.store: ArtifactStore = objects.store
        self._root = f"{objects.hidden_uri}/uploads"

    def _folder(self, upload_id: str) -> str:
        return f"{self._root}/{upload_id}"

    def create(
        self, bucket: str, key: str, attributes: ObjectAttributes, checksum_algorithm: str | None
    ) -> Upload:
        self.objects.require_bucket(bucket)
        upload = Upload(
            uuid.uuid4().hex, bucket, key, datetime.now(timezone.utc), attributes, checksum_algorithm
        )
        record = asdict(upload) | {"initiated": upload.initiated.isoformat()}
        self.store.put_bytes(json.dumps(record).encode(), f"{self._folder(upload.upload_id)}/upload.json")
        return upload

    def load(self, bucket: str, key: str, upload_id: str) -> Upload:
        """The upload ``upload_id`` of this bucket and key; NoSuchUpload if there is none."""
        if not _UPLOAD_ID.match(upload_id):
            raise S3Error.no_such_upload(upload_id)
        try:
            with self.store.open(f"{self._folder(upload_id)}/upload.json") as stream:
                record: dict[str, Any] = json.loads(stream.read())
        except NotFound:
            self.objects.require_bucket(bucket)
            raise S3Error.no_such_upload(upload_id) from None
        upload = _upload_of(record)
        if (upload.bucket, upload.key) != (bucket, key):
            raise S3Error.no_such_upload(upload_id)
        return upload

    def list_uploads(self, bucket: str) -> list[Upload]:
        try:
            folders = self.store.list_objects(self._root)
        except NotFound:
            return []
        found = []
        for folder in folders:
            upload_id = folder.uri.rsplit("/", 1)[-1]
            try:
                with self.store.open(f"{self._folder(upload_id)}/upload.json") as stream:
                    upload = _upload_of(json.loads(stream.read()))
            except NotFound:
                continue  # completed or aborted meanwhile
            if upload.bucket == bucket:
                found.append(upload)
        return sorted(found, key=lambda u: (u.key, u.initiated))

    # -- parts --------------------------------------------------------------------------------------

    @staticmethod
    def check_part_number(raw: str) -> int:
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PART_NUMBER:
            raise S3Error.invalid_argument(
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
                "partNumber",
                raw,
            )
        return int(raw)

    def new_part_uri(self, upload: Upload, number: int) -> str:
        return f"{self._folder(upload.upload_id)}/data-{number:05d}-{uuid.uuid4().hex}"

    def record_part(
        self,
        upload: Upload,
        number: int,
        data_uri: str,
        etag: str,
        size: int,
        checksum: tuple[str, str] | None,
    ) -> Part:
        part = Part(number, etag, size, datetime.now(timezone.utc), data_uri, checksum)
        record = asdict(part) | {"modified": part.modified.isoformat()}
        self.store.put_bytes(
            json.dumps(record).encode(), f"{self._folder(upload.upload_id)}/part-{number:05d}.json"
        )
        if not self.store.exists(f"{self._folder(upload.upload_id)}/upload.json"):
            self.store.delete(self._folder(upload.upload_id))  # aborted while the part streamed in
            raise S3Error.no_such_upload(upload.upload_id)
        return part

    def parts(self, upload: Upload) -> list[Part]:
        found = []
        for entry in self.store.list_objects(self._folder(upload.upload_id)):
            name = entry.uri.rsplit("/", 1)[-1]
            if name.startswith("part-") and name.endswith(".json"):
                with self.store.open(entry.uri) as stream:
                    record = json.loads(stream.read())
                found.append(
                    Part(
                        record["number"],
                        record["etag"],
                        record["size"],
                        datetime.fromisoformat(record["modified"]),
                        record["data_uri"],
                        tuple(record["checksum"]) if record.get("checksum") else None,
                    )
                )
        return sorted(found, key=lambda p: p.number)

    # -- completion ---------------------------------------------------------------------------------

    def complete(self, upload: Upload, requested: list[RequestedPart]) -> ObjectHead:
        chosen = self._check_requested(upload, requested)
        written = self.objects.write_joined(upload.bucket, upload.key, [part.data_uri for part in chosen])
        joined = b"".join(bytes.fromhex(part.etag.strip('"')) for part in chosen)
        etag = f'"{hashlib.md5(joined).hexdigest()}-{len(chosen)}"'
        head = self.objects.record(
            upload.bucket, upload.key, written, etag, upload.attributes, parts=len(chosen)
        )
        self.store.delete(self._folder(upload.upload_id))
        return head

    def _check_requested(self, upload: Upload, requested: list[RequestedPart]) -> list[Part]:
        if not requested:
            raise S3Error.malformed_xml("CompleteMultipartUpload lists no parts")
        numbers = [part.number for part in requested]
        if numbers != sorted(set(numbers)):
            raise S3Error(
                "InvalidPartOrder",
                f"The list of parts was not in ascending order: {numbers[:20]}. "
                "Parts must be ordered by part number.",
                400,
            )
        stored = {part.number: part for part in self.parts(upload)}
        chosen = []
        for asked in requested:
            part = stored.get(asked.number)
            if part is None or part.etag.strip('"') != asked.etag.strip('"'):
                raise S3Error.invalid_part(
                    f"part {asked.number} with ETag {asked.etag} was not uploaded to upload "
                    f"{upload.upload_id} (or was uploaded again since); ListParts shows what is stored"
                )
            for algorithm, value in asked.checksums.items():
                if part.checksum is not None and part.checksum[0] == algorithm and part.checksum[1] != value:
                    raise S3Error.invalid_part(
                        f"part {asked.number}'s {algorithm} {value} differs from the uploaded "
                        f"part's {part.checksum[1]}"
                    )
            chosen.append(part)
        for part in chosen[:-1]:
            if part.size < MIN_PART_BYTES:
                raise S3Error(
                    "EntityTooSmall",
                    "Your proposed upload is smaller than the minimum allowed object size: part "
                    f"{part.number} has {part.size} bytes; every part but the last needs at least "
                    f"{MIN_PART_BYTES} (5 MiB).",
                    400,
                    PartNumber=str(part.number),
                )
        return chosen

    def abort(self, upload: Upload) -> None:
        self.store.delete(self._folder(upload.upload_id))


def _upload_of(record: dict[str, Any]) -> Upload:
    return Upload(
        record["upload_id"],
        record["bucket"],
        record["key"],
        datetime.fromisoformat(record["initiated"]),
        ObjectAttributes(**record["attributes"]),
        record.get("checksum_algorithm"),
    )
