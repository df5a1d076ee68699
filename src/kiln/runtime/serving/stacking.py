"""Running a batch of requests through the handler chain, merging same-shaped inputs when it is safe.

Merging is only allowed where the answers stay the ones each request would get alone. For every
input signature (array type, dtype, shape) the first batch holding two or more such requests
calibrates it: each request runs on its own (those results are what the callers get), then once
merged, and the merged output must split back into pieces of the same shape, dtype and values
(``np.allclose``: merged kernels may round differently in the last bits). Two merges are tried:

* ``stack``: a new leading axis (k requests of shape S → one input of shape (k, *S)); piece i is row i
  reshaped to the single-request output shape. This is how a network that reshapes every input to
  (-1, 1, 28, 28) answers (1, 10) alone and (k, 10) for k requests.
* ``concat``: along the existing first axis (k requests of m rows → k·m rows), for models such as
  scikit-learn estimators that take a 2-D batch of rows and refuse a 3-D stack.

A signature neither merge reproduces runs one request per model call from then on. Errors stay
per request: a merged call that fails is redone request by request, so only the bad request fails.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import NOT_DECODED, Invocation, reply_for_exception

__all__ = ["BatchExecutor", "Plan"]

logger = logging.getLogger("kiln.runtime.serving")

Signature = tuple[Any, ...]
_UNKNOWN: Any = object()  # signature not calibrated yet (distinct from None: calibrated, unsafe)
# Variable-length inputs make a new signature per length; past this many, new ones are not
# calibrated (they run one request per call) so the table cannot grow without bound.
MAX_SIGNATURES = 256


@dataclass(frozen=True)
class Plan:
    """How one input signature is merged, and the output shape one request gets."""

    strategy: str  # "stack" or "concat"
    single_output_shape: tuple[int, ...]


class BatchExecutor:
    """Runs batches on the worker thread; remembers per signature whether merging is safe."""

    def __init__(self, chain: HandlerChain) -> None:
        self._chain = chain
        self._plans: dict[Signature, Plan | None] = {}
        # Context-aware user predict_fns see one context per merged call: merge only equal attributes.
        self._key_attributes = chain.predict_fn is not None and chain.predict_fn.takes_context
        self.merged_requests = 0  # answered from a merged model call
        self.model_calls = 0
        self.largest_merge = 0  # most requests answered by one model call

    def run(self, batch: Sequence[Invocation]) -> bool:
        """Fill in ``reply`` for every invocation; True when a calibration ran (an untypical batch).

        Each step's exceptions are caught per request: user code must never take the instance down.
        """
        chain = self._chain
        if chain.transform_fn is not None:
            for inv in batch:
                try:
                    inv.reply = chain.transform(inv)
                except Exception as e:
                    inv.reply = reply_for_exception(e, "transform_fn")
            return False
        for inv in batch:
            if inv.data is NOT_DECODED:
                try:
                    chain.decode(inv)
                except Exception as e:
                    inv.reply = reply_for_exception(e, "input_fn")
        live = [inv for inv in batch if inv.reply is None]
        calibrated = False
        for group in self._groups(live):
            calibrated |= self._predict_group(group)
        for inv in live:
            if inv.reply is None:
                try:
                    inv.reply = chain.encode(inv, inv.prediction)
                except Exception as e:
                    inv.reply = reply_for_exception(e, "output_fn")
        return calibrated

    def plans(self) -> list[dict[str, Any]]:
        """The calibrated signatures, for ``/stats``."""
        return [
            {"input": _describe_signature(sig), "merge": plan.strategy if plan else "none (not batch-safe)"}
            for sig, plan in list(self._plans.items())  # a snapshot: the worker thread may add one
        ]

    def _predict_one(self, inv: Invocation) -> bool:
        self.model_calls += 1
        try:
            inv.prediction = self._chain.predict(inv.data, inv)
        except Exception as e:
            inv.reply = reply_for_exception(e, "predict_fn")
            return False
        return True

    def _groups(self, live: list[Invocation]) -> list[list[Invocation]]:
        if not self._chain.batchable or len(live) < 2:
            return [[inv] for inv in live]
        groups: dict[Signature, list[Invocation]] = {}
        singles: list[list[Invocation]] = []
        for inv in live:
            key = self._key(inv)
            if key is None:
                singles.append([inv])
            else:
                groups.setdefault(key, []).append(inv)
        return [*groups.values(), *singles]

    def _key(self, inv: Invocation) -> Signature | None:
        key = _signature(inv.data)
        if key is not None and self._key_attributes:
            return (*key, inv.custom_attributes)
        return key

    def _predict_group(self, group: list[Invocation]) -> bool:
        if len(group) == 1:
            self._predict_one(group[0])
            return False
        key = self._key(group[0])
        assert key is not None  # only arrays are grouped
        plan = self._plans.get(key, _UNKNOWN)
        if plan is _UNKNOWN and len(self._plans) < MAX_SIGNATURES:
            self._calibrate(key, group)
            return True
        if plan is _UNKNOWN:
            plan = None
        if plan is None or not self._predict_merged(plan, group):
            for inv in group:
                self._predict_one(inv)
        return False

    def _predict_merged(self, plan: Plan, group: list[Invocation]) -> bool:
        self.model_calls += 1
        try:
            merged = self._chain.predict(_merge(plan.strategy, [inv.data for inv in group]), group[0])
            pieces = _split(plan.strategy, merged, len(group), plan.single_output_shape)
        except Exception:
            return False  # redo one by one, so only the request at fault gets an error
        if pieces is None:
            return False
        for inv, piece in zip(group, pieces, strict=True):
            inv.prediction = piece
        self.merged_requests += len(group)
        self.largest_merge = max(self.largest_merge, len(group))
        return True

    def _calibrate(self, key: Signature, group: list[Invocation]) -> None:
        if not all([self._predict_one(inv) for inv in group]):
            return  # some requests fail on their own: nothing to compare yet, decide on a later batch
        references = [inv.prediction for inv in group]
        single_shape = _shape(references[0])
        plan: Plan | None = None
        if single_shape is not None:
            datas = [inv.data for inv in group]
            for strategy in ("stack", "concat"):
                if strategy == "concat" and not _shape(datas[0]):
                    continue  # scalars have no axis to concatenate along
                self.model_calls += 1
                try:
                    merged = self._chain.predict(_merge(strategy, datas), group[0])
                    pieces = _split(strategy, merged, len(group), single_shape)
                except Exception:
                    continue
                if pieces is not None and all(map(_same_values, references, pieces)):
                    plan = Plan(strategy, single_shape)
                    break
        self._plans[key] = plan
        verdict = f"merged by {plan.strategy}" if plan else "not batch-safe, served one request per call"
        logger.info("Inputs %s: %s (checked on %d requests).", _describe_signature(key), verdict, len(group))


def _signature(data: Any) -> Signature | None:
    """What must match for requests to merge: array kind, dtype and shape; None if not an array."""
    if isinstance(data, np.ndarray):
        return ("ndarray", data.dtype.str, data.shape)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(data, torch.Tensor):
        return ("tensor", str(data.dtype), tuple(data.shape), str(data.device))
    return None


def _merge(strategy: str, datas: list[Any]) -> Any:
    if isinstance(datas[0], np.ndarray):
        return np.stack(datas) if strategy == "stack" else np.concatenate(datas)
    torch = sys.modules["torch"]
    return torch.stack(datas) if strategy == "stack" else torch.cat(datas)


def _split(strategy: str, merged: Any, count: int, single_shape: tuple[int, ...]) -> list[Any] | None:
    """The per-request pieces of ``merged``, or None when its shape cannot hold ``count`` answers.

    A piece is reshaped to what the request alone produced: the merged output's rows are the same
    numbers in the same order, only the leading axes differ (e.g. (k, 10) rows vs a (1, 10) answer).
    """
    shape = _shape(merged)
    if not shape or shape[0] % count:
        return None
    rows = shape[0] // count  # leading-axis entries per request: 1 for stack, m for concat of m rows
    if (strategy == "stack" and rows != 1) or rows * math.prod(shape[1:]) != math.prod(single_shape):
        return None
    return [merged[i * rows : (i + 1) * rows].reshape(single_shape) for i in range(count)]


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    if shape is None or not hasattr(value, "reshape"):
        return None
    return tuple(shape)


def _as_array(value: Any) -> Any:
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _same_values(reference: Any, piece: Any) -> bool:
    if type(reference) is not type(piece):
        return False
    a, b = _as_array(reference), _as_array(piece)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    # Float32 kernels round differently per batch size; tolerate that, not a different answer.
    scale = float(np.nanmax(np.abs(a))) if a.size and not np.all(np.isnan(a)) else 1.0
    return bool(np.allclose(b, a, rtol=1e-4, atol=1e-5 * max(1.0, scale), equal_nan=True))


def _describe_signature(key: Signature) -> str:
    dtype = np.dtype(key[1]).name if key[0] == "ndarray" else key[1]
    return f"{dtype}{list(key[2])}"  # e.g. "float32[28, 28]"
