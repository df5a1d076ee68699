"""A transform job's work: every input object read, cut into records, sent to the job's instances in
requests, and its outputs assembled into ``<output path>/<key>.out``.

The instances are the endpoints' model servers, reached over the same multiplexed Unix-socket link
the runtime router uses (``InstanceLink``); requests are the same invocations, so the serving
runtime's codecs, handlers and dynamic batching apply unchanged. Each instance takes the next object
not yet taken (the instances split the objects between them) and keeps up to MaxConcurrentTransforms
requests of it in flight; outputs are written in input order whatever order the answers arrive in.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiln.artifacts import ArtifactStore
from kiln.services.instance_links import InstanceGone, InstanceLink
from kiln.services.transform.filters import (
    RecordFilter,
    RecordFormat,
    RecordRejected,
    join_records,
)
from kiln.services.transform.splitting import (
    Batch,
    RecordTooLarge,
    batches,
    join_records_body,
    line_batches,
    split_records,
)

__all__ = ["InputObject", "TransformFailed", "TransformPlan", "TransformRun"]

_LINE_TYPES = ("text/csv", "application/jsonlines", "application/x-jsonlines", "text/plain")


class TransformFailed(Exception):
    """The job failed; the message is its FailureReason."""


@dataclass(frozen=True)
class InputObject:
    uri: str  # where it is read from
    key: str  # its name relative to the input prefix: the output is ``<output path>/<key>.out``


@dataclass(frozen=True)
class TransformPlan:
    """What the CreateTransformJob request asks for, in the worker's terms."""

    objects: tuple[InputObject, ...]
    output_path: str
    content_type: str
    accept: str
    split_type: str  # Line | RecordIO | None
    strategy: str  # SingleRecord | MultiRecord
    max_payload_bytes: int
    concurrency: int  # MaxConcurrentTransforms, per instance
    assemble_with: str  # Line | None
    gzip_input: bool
    input_filter: RecordFilter | None
    output_filter: RecordFilter | None
    join_input: bool
    timeout_seconds: float
    max_retries: int

    @property
    def per_record(self) -> bool:
        """Whether each record's output must be cut out of its request's answer."""
        return self.join_input or self.output_filter is not None

    def output_uri(self, item: InputObject) -> str:
        return f"{self.output_path.rstrip('/')}/{item.key}.out"


def _base_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _error_text(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:500]
    if isinstance(payload, dict) and "error" in payload:
        return str(payload["error"])
    return json.dumps(payload)[:500]


class _Rejected(Exception):
    """The model answered a request with a 4xx: the records in it are at fault."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Progress:
    objects_total: int = 0
    objects_done: int = 0
    records_done: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "ObjectsTotal": self.objects_total,
            "ObjectsDone": self.objects_done,
            "RecordsDone": self.records_done,
        }


class TransformRun:
    def __init__(
        self,
        plan: TransformPlan,
        store: ArtifactStore,
        links: list[InstanceLink],
        log: Callable[[str], None],
        stop: threading.Event,
    ) -> None:
        self.plan = plan
        self.store = store
        self.links = links
        self.log = log
        self.stop = stop
        self.progress = Progress(objects_total=len(plan.objects))
        self._input_format = RecordFormat.of(plan.content_type)
        self._output_format = RecordFormat.of(plan.accept)

    async def run(self) -> None:
        """Every object transformed, or TransformFailed; returns early (cancelled) on ``stop``."""
        pending: asyncio.Queue[InputObject] = asyncio.Queue()
        for item in self.plan.objects:
            pending.put_nowait(item)
        workers = []
        for link in self.links:
            # Two objects per instance at a time, so the next one is read and cut while the instance
            # works on the last requests of the other; in flight: MaxConcurrentTransforms at most.
            limit = asyncio.Semaphore(self.plan.concurrency)
            workers += [asyncio.create_task(self._serve_objects(link, limit, pending)) for _ in range(2)]
        watcher = asyncio.create_task(self._watch_stop())
        try:
            running: set[asyncio.Task[None]] = {*workers, watcher}
            failure: BaseException | None = None
            while any(task in running for task in workers):
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    error = None if task.cancelled() else task.exception()
                    if error is not None and failure is None:
                        # The job fails; objects already under way are finished and kept (their
                        # outputs are good), no new one is started.
                        failure = error
                        while not pending.empty():
                            pending.get_nowait()
                if watcher in done:
                    raise asyncio.CancelledError()
            if failure is not None:
                raise failure
        finally:
            for task in [*workers, watcher]:
                task.cancel()
            await asyncio.gather(*workers, watcher, return_exceptions=True)
            for link in self.links:
                link.close()

    async def _watch_stop(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        # Finishing here ends the run; the workers are cancelled by ``run``.

    async def _serve_objects(
        self, link: InstanceLink, limit: asyncio.Semaphore, pending: asyncio.Queue[InputObject]
    ) -> None:
        while True:
            try:
                item = pending.get_nowait()
            except asyncio.QueueEmpty:
                return
            records = await self._transform_object(link, limit, item)
            self.progress.objects_done += 1
            self.progress.records_done += records
            self.log(f"{item.uri}: {records} records -> {self.plan.output_uri(item)} ({link.instance_id})")

    # -- one object -----------------------------------------------------------------------------------

    def _read(self, item: InputObject) -> bytes:
        with self.store.open(item.uri) as stream:
            data = stream.read()
        if self.plan.gzip_input:
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise TransformFailed(f"ClientError: {item.uri} is not gzip data ({e})") from e
        return data

    def _where(self, item: InputObject, index: int) -> str:
        noun = "line" if self.plan.split_type == "Line" else "record"
        return f"{item.uri}, {noun} {index + 1}"

    async def _transform_object(self, link: InstanceLink, limit: asyncio.Semaphore, item: InputObject) -> int:
        data = await asyncio.to_thread(self._read, item)
        fast = (
            self.plan.split_type == "Line"
            and self.plan.strategy == "MultiRecord"
            and not self.plan.per_record
            and self.plan.input_filter is None
        )
        sources: list[bytes] = []
        try:
            if fast:
                work = await asyncio.to_thread(lambda: list(line_batches(data, self.plan.max_payload_bytes)))
            else:
                try:
                    records = split_records(data, self.plan.split_type)
                except ValueError as e:
                    raise TransformFailed(
                        f"ClientError: cannot split {item.uri} as {self.plan.split_type}: {e}"
                    ) from e
                sources = records
                if self.plan.input_filter is not None:
                    records = [self._filter_input(item, index, r) for index, r in enumerate(records)]
                work = list(
                    batches(records, self.plan.strategy, self.plan.max_payload_bytes, self.plan.split_type)
                )
        except RecordTooLarge as e:
            raise TransformFailed(
                f"ClientError: {item.uri}: {e}, more than MaxPayloadInMB "
                f"({self.plan.max_payload_bytes // (1024 * 1024)} MB); raise MaxPayloadInMB or split "
                "the object into smaller records"
            ) from e

        async def transform(batch: Batch) -> bytes:
            async with limit:
                if self.stop.is_set():
                    raise asyncio.CancelledError()
                answer = await self._send_batch(link, item, batch)
                if self.plan.per_record:
                    return self._shape_outputs(item, batch, sources, answer)
                return answer

        parts = await asyncio.gather(*(transform(b) for b in work))
        await asyncio.to_thread(self._write, item, list(parts))
        return sum(batch.count for batch in work)

    def _filter_input(self, item: InputObject, index: int, record: bytes) -> bytes:
        assert self.plan.input_filter is not None
        fmt = self._input_format
        try:
            return fmt.dump(self.plan.input_filter.apply(fmt.load(record)))
        except (RecordRejected, UnicodeDecodeError) as e:
            raise TransformFailed(
                f"ClientError: InputFilter {self.plan.input_filter.expression} "
                f"on {self._where(item, index)}: {e}"
            ) from e

    def _write(self, item: InputObject, parts: list[bytes]) -> None:
        if self.plan.assemble_with == "Line":
            body = b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts if p)
        else:
            body = b"".join(parts)
        self.store.put_bytes(body, self.plan.output_uri(item))

    # -- requests -------------------------------------------------------------------------------------

    async def _invoke(self, link: InstanceLink, body: bytes) -> bytes:
        """The answer's body; _Rejected on a 4xx; retried on a 5xx, a timeout or a lost instance."""
        last = ""
        for attempt in range(self.plan.max_retries + 1):
            try:
                status, _, answer = await asyncio.wait_for(
                    link.invoke(self.plan.content_type, self.plan.accept, "", body),
                    self.plan.timeout_seconds,
                )
            except asyncio.TimeoutError:
                last = f"no answer within InvocationsTimeoutInSeconds ({self.plan.timeout_seconds:g} s)"
                continue
            except InstanceGone as e:
                last = str(e)
                continue
            if status < 400:
                return answer
            if status < 500:
                raise _Rejected(status, _error_text(answer))
            last = f"the model answered {status}: {_error_text(answer)}"
            if attempt < self.plan.max_retries:
                await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        raise TransformFailed(
            f"InternalServerError: {link.instance_id} failed {self.plan.max_retries + 1} times "
            f"(InvocationsMaxRetries {self.plan.max_retries}): {last}"
        )

    async def _send_batch(self, link: InstanceLink, item: InputObject, batch: Batch) -> bytes:
        try:
            answer = await self._invoke(link, batch.body)
        except _Rejected as rejected:
            index, reason = await self._first_rejected(link, batch, rejected)
            raise TransformFailed(
                f"ClientError: the model rejected {self._where(item, index)} "
                f"({rejected.status}): {reason}. The outputs of earlier objects were kept."
            ) from None
        if not self.plan.per_record and self._line_output and self.plan.split_type == "Line":
            lines = answer.rstrip(b"\n").count(b"\n") + 1 if answer else 0
            if self.plan.assemble_with == "Line" and lines != batch.count:
                raise TransformFailed(
                    f"ClientError: {self._where(item, batch.first)}: the model answered {lines} lines "
                    f"for {batch.count} records, so outputs cannot be matched to inputs; "
                    "answer one line per record or use BatchStrategy SingleRecord"
                )
        return answer.rstrip(b"\n") if self.plan.assemble_with == "Line" else answer

    async def _first_rejected(self, link: InstanceLink, batch: Batch, rejected: _Rejected) -> tuple[int, str]:
        """The first record of ``batch`` the model rejects on its own, found by halving the batch."""
        records, first, reason = batch.records(), batch.first, rejected.message
        while len(records) > 1:
            half = len(records) // 2
            try:
                await self._invoke(link, join_records_body(records[:half], self.plan.split_type))
            except _Rejected as e:
                records, reason = records[:half], e.message
                continue
            records, first = records[half:], first + half
        return first, reason

    @property
    def _line_output(self) -> bool:
        return _base_type(self.plan.accept) in _LINE_TYPES

    # -- per-record outputs ---------------------------------------------------------------------------

    def _split_answer(self, item: InputObject, batch: Batch, answer: bytes) -> list[bytes]:
        count = batch.count
        if count == 1:
            return [answer.rstrip(b"\n")]
        if self._line_output:
            outputs = answer.rstrip(b"\n").split(b"\n")
        else:
            try:
                value = json.loads(answer)
            except ValueError:
                value = None
            if isinstance(value, dict) and len(value) == 1:
                value = next(iter(value.values()))  # {"predictions": [...]}, TF Serving's answer
            outputs = [json.dumps(v).encode() for v in value] if isinstance(value, list) else []
        if len(outputs) != count:
            raise TransformFailed(
                f"ClientError: {self._where(item, batch.first)}: the model answered {len(outputs)} "
                f"outputs for {count} records, so JoinSource/OutputFilter cannot match them; use Accept "
                "text/csv or application/jsonlines (one line per record) or BatchStrategy SingleRecord"
            )
        return outputs

    def _shape_outputs(self, item: InputObject, batch: Batch, sources: list[bytes], answer: bytes) -> bytes:
        outputs = self._split_answer(item, batch, answer)
        shaped = []
        for offset, output in enumerate(outputs):
            index = batch.first + offset
            try:
                value: Any = self._output_format.load(output) if output else ""
                fmt = self._output_format
                if self.plan.join_input:
                    value = join_records(self._input_format.load(sources[index]), value, self._input_format)
                    fmt = self._input_format
                if self.plan.output_filter is not None:
                    value = self.plan.output_filter.apply(value)
                shaped.append(fmt.dump(value))
            except (RecordRejected, UnicodeDecodeError) as e:
                raise TransformFailed(
                    f"ClientError: joining or filtering {self._where(item, index)}: {e}"
                ) from e
        separator = b"\n" if self.plan.assemble_with == "Line" else b""
        return separator.join(shaped)
