"""Dynamic batching: the model's one worker thread, and when it runs the requests that wait.

The event loop appends each request to a queue and goes back to accepting; it never blocks on the
model. One worker thread runs everything that touches the model or user code, so handlers need not
be thread-safe and run in arrival order. (One exception, with Kiln's own handlers only: requests
that come one at a time are run by the event loop itself, under the worker's lock; see
``Batcher._run_here``.) The worker takes requests straight from the queue: under load it goes from
one batch to the next without waiting for the busy loop, and requests that arrive while a batch
runs simply form the next one (one batch in flight, as BentoML limits batches to its model
workers). Answers go back with one loop wake-up per batch, however many requests it holds.

When requests are few, the worker decides whether to run them now or wait a little for company
(BentoML's adaptive dispatcher is the reference design). The cost of a batch is modelled as
``fixed + per_request × size``, refitted on recent batches. Waiting pays while the next request is
expected sooner than the fixed cost that merging it would save, and only while the oldest request
has waited less than ``max_delay``. At low load, where batches are of size 1 and arrivals are far
apart, requests run at once.

The arrival pace alone over-promises for a few clients that each wait for their answer before
sending again (a closed loop: at concurrency 8, measured, 413 of 443 batches waited and 18 of those
waits saw another request arrive): the next requests come only after this batch answers. So the
model also learns how often a wait was joined by another request, and the fixed cost a wait may
save is scaled by that share; once waits stop paying, one in ``_PROBE_EVERY`` is still tried, so a
change of traffic is noticed.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kiln.runtime.serving.default_handlers import limit_torch_threads
from kiln.runtime.serving.handlers import HandlerChain
from kiln.runtime.serving.invocation import Invocation, Reply, reply_for_exception
from kiln.runtime.serving.settings import ServingSettings
from kiln.runtime.serving.stacking import BatchExecutor

__all__ = ["BatchCostModel", "Batcher"]

logger = logging.getLogger("kiln.runtime.serving")

_DECAY = 0.9  # weight of the previous estimate per batch: about the last 10 batches count
_GAP_WEIGHT = 0.2  # weight of the newest inter-arrival gap in its moving average
_PAYOFF_WEIGHT = 0.2  # weight of the newest wait's outcome in the share of waits that found company
_PROBE_EVERY = 16  # while waits do not pay, one wait in this many is still tried
# A request may run on the event loop itself (see Batcher._run_here) only if one request's model call
# is predicted to take less than this (the loop answers nothing else meanwhile), and only while less
# than _RUN_HERE_MAX_OVERLAP of recent requests arrived with another one in flight.
_RUN_HERE_MAX_SECONDS = 0.010
_RUN_HERE_MAX_OVERLAP = 0.05
_OVERLAP_WEIGHT = 0.1  # weight of the newest arrival in the share of overlapping ones


class BatchCostModel:
    """Batch duration as ``fixed + per_request × size`` (decayed least squares), plus arrival pace."""

    def __init__(self) -> None:
        self._s0 = self._sx = self._sy = self._sxx = self._sxy = 0.0
        self.arrival_gap = math.inf  # moving average of seconds between requests
        self._last_arrival: float | None = None
        # Moving share of recent waits after which more requests were queued; optimistic at first.
        self.wait_payoff = 1.0
        self._unpaid_waits_skipped = 0
        self.batches_seen = 0

    def arrived(self, now: float) -> None:
        if self._last_arrival is not None:
            gap = now - self._last_arrival
            self.arrival_gap = (
                gap
                if math.isinf(self.arrival_gap)
                else self.arrival_gap + _GAP_WEIGHT * (gap - self.arrival_gap)
            )
        self._last_arrival = now

    def batch_ran(self, size: int, seconds: float) -> None:
        self.batches_seen += 1
        self._s0 = self._s0 * _DECAY + 1.0
        self._sx = self._sx * _DECAY + size
        self._sy = self._sy * _DECAY + seconds
        self._sxx = self._sxx * _DECAY + size * size
        self._sxy = self._sxy * _DECAY + size * seconds

    def fit(self) -> tuple[float, float]:
        """``(fixed seconds, seconds per request)``; (0, 0) before any batch ran."""
        if self._s0 == 0.0:
            return 0.0, 0.0
        spread = self._s0 * self._sxx - self._sx * self._sx
        if spread <= 1e-9 * self._s0 * self._sxx:  # all recent batches had one size: no slope to see
            return self._sy / self._s0, 0.0
        slope = max(0.0, (self._s0 * self._sxy - self._sx * self._sy) / spread)
        return max(0.0, (self._sy - slope * self._sx) / self._s0), slope

    def waited(self, found_company: bool) -> None:
        """Record whether more requests were queued at the end of a wait than at its start."""
        self.wait_payoff += _PAYOFF_WEIGHT * (float(found_company) - self.wait_payoff)

    def wait_before_running(self, pending: int, waited: float, max_size: int, max_delay: float) -> float:
        """Seconds to wait for more requests before running ``pending`` ones (0: run now)."""
        remaining = max_delay - waited
        gap = self.arrival_gap
        if pending >= max_size or remaining <= 0.0 or gap >= remaining:
            return 0.0
        fixed = self.fit()[0]
        if gap >= fixed:
            return 0.0
        if gap >= fixed * self.wait_payoff:  # would pay if it found company, but waits rarely do
            self._unpaid_waits_skipped += 1
            if self._unpaid_waits_skipped < _PROBE_EVERY:
                return 0.0
            self._unpaid_waits_skipped = 0  # a probe: waits may pay again if the traffic changed
        return gap


class Batcher:
    """The request queue and the one worker thread that runs the model and all user code.

    The worker loads the model first (``start``), then serves batches until ``stop``.
    """

    def __init__(self, load: Callable[[], HandlerChain], settings: ServingSettings) -> None:
        self._load = load
        self._settings = settings
        self._max_size = 1
        self._max_delay = 0.0
        self._cost = BatchCostModel()
        # The loop appends and the worker pops: deque's append/popleft are atomic, so no lock.
        self._pending: collections.deque[Invocation] = collections.deque()
        self._idle = False  # the worker is blocked on _wakeups: an arrival must put a token there
        # Held while a batch runs, by the worker or by the event loop (_run_here): user code and the
        # model never run in two threads at once.
        self._running = threading.Lock()
        self._run_here_allowed = False  # Kiln's own handlers only: user code may be bound to its thread
        self._loop_threads_limited = False
        # Event loop thread only: requests queued or running, how many arrived this turn of the loop,
        # and the moving share of arrivals that found another request in flight (1: assume so).
        self._in_flight = 0
        self._arrived_this_turn = 0
        self._overlap = 1.0
        # A C-level queue of wake-up tokens: cheaper to signal than threading.Event's Python Condition.
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._stopping = False
        self._loaded: concurrent.futures.Future[HandlerChain] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._main, name="kiln-model-worker", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.executor: BatchExecutor | None = None
        self.requests = 0
        self.batches = 0
        self.largest_batch = 0

    def start(self) -> HandlerChain:
        """Start the worker and wait for the model; whatever loading raised is raised here."""
        self._thread.start()
        return self._loaded.result()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._wakeups.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, inv: Invocation) -> asyncio.Future[Reply]:
        """Queue ``inv`` (event loop thread); the future resolves to its reply (maybe at once)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        inv.future = future = loop.create_future()
        self._queue(inv)
        return future

    def submit_with_callback(self, inv: Invocation, on_reply: Callable[[Reply], None]) -> None:
        """Queue ``inv`` (event loop thread); ``on_reply(reply)`` is called on the loop when it is done,
        possibly before this returns (a request the loop runs itself, see ``_run_here``).

        Cheaper than ``submit`` for a caller that only forwards the answer: no future to create,
        resolve and wake a task on.
        """
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        inv.on_reply = on_reply
        self._queue(inv)

    def _queue(self, inv: Invocation) -> None:
        inv.arrived = now = time.perf_counter()
        self._cost.arrived(now)
        self.requests += 1
        # Requests read in the same turn of the loop overlap too: they waited while the loop was busy
        # (with a request it ran itself, say), so concurrency shows even when the worker is idle.
        overlapped = self._in_flight > 0 or self._arrived_this_turn > 0
        self._overlap += _OVERLAP_WEIGHT * (float(overlapped) - self._overlap)
        if self._arrived_this_turn == 0:
            assert self._loop is not None
            self._loop.call_soon(self._end_turn)
        self._arrived_this_turn += 1
        self._in_flight += 1
        if (
            self._run_here_allowed
            and self._overlap < _RUN_HERE_MAX_OVERLAP
            and self._idle
            and not self._pending
            and self._run_here(inv)
        ):
            return
        self._pending.append(inv)
        if self._idle:
            self._idle = False  # one token per idle spell; a stray one only costs the worker a loop
            self._wakeups.put(None)

    def stats(self) -> dict[str, Any]:
        fixed, per_request = self._cost.fit()
        gap = self._cost.arrival_gap
        executor = self.executor
        return {
            "requests": self.requests,
            "batches": self.batches,
            "largest_batch": self.largest_batch,
            "model_calls": executor.model_calls if executor else 0,
            "merged_requests": executor.merged_requests if executor else 0,
            "largest_merged_call": executor.largest_merge if executor else 0,
            "queued": len(self._pending),
            "max_batch_size": self._max_size,
            "max_batch_delay_ms": self._max_delay * 1000.0,
            "batch_cost_ms": {"fixed": fixed * 1000.0, "per_request": per_request * 1000.0},
            "arrival_gap_ms": None if math.isinf(gap) else gap * 1000.0,
            "calibrations": executor.plans() if executor else [],
        }

    def _main(self) -> None:
        try:
            chain = self._load()
            # Set in this thread: OpenMP keeps the thread count per calling thread.
            limit_torch_threads(self._settings.torch_threads)
            self.executor = BatchExecutor(chain)
        except BaseException as e:
            self._loaded.set_exception(e)
            return
        if chain.batchable:
            self._max_size = self._settings.max_batch_size
            self._max_delay = self._settings.max_batch_delay_s
        self._run_here_allowed = chain.source == "default handlers"
        self._loaded.set_result(chain)
        self._serve(self.executor)

    def _serve(self, executor: BatchExecutor) -> None:
        pending = self._pending
        while not self._stopping:
            if not pending:
                self._idle = True
                if not pending:  # checked again: an arrival just before _idle was set put no token
                    self._wakeups.get()
                self._idle = False
                continue
            now = time.perf_counter()
            wait = self._cost.wait_before_running(
                len(pending), now - pending[0].arrived, self._max_size, self._max_delay
            )
            if wait > 0.0:
                queued = len(pending)
                time.sleep(wait)
                self._cost.waited(len(pending) > queued)
                continue
            # Taken straight from the queue, not handed over by the loop: under load the worker goes
            # from one batch to the next without waiting for the busy event loop to notice.
            batch = [pending.popleft() for _ in range(min(len(pending), self._max_size))]
            with self._running:
                self._run(executor, batch)
            assert self._loop is not None
            try:
                # One wake-up of the event loop per batch, however many requests it answers.
                self._loop.call_soon_threadsafe(self._deliver, batch)
            except RuntimeError:  # the loop closed: the server is shutting down, nobody waits
                return

    def _run(self, executor: BatchExecutor, batch: list[Invocation]) -> None:
        """Fill in every reply of ``batch`` (with ``_running`` held) and learn what the batch cost."""
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        started = time.perf_counter()
        try:
            calibrated = executor.run(batch)
        except Exception as e:  # a Kiln bug: answer the batch rather than leave it hanging
            calibrated = True
            for inv in batch:
                inv.reply = inv.reply or reply_for_exception(e, "the batch worker")
        if not calibrated:  # a calibration runs the batch twice over: not what batches cost
            self._cost.batch_ran(len(batch), time.perf_counter() - started)

    def _end_turn(self) -> None:
        self._arrived_this_turn = 0

    def _run_here(self, inv: Invocation) -> bool:
        """Run ``inv`` on the event loop at once, if that is safe and cheap; False: queue it instead.

        One request at a time (a client that waits for each answer before sending the next) gains
        nothing from the worker, while handing the request over and its answer back costs two thread
        wake-ups, each a chance to wait for a CPU when other programs load the machine. So when
        requests have not been overlapping, the worker is idle with nothing queued and a model call
        is predicted to be short, the loop runs the request itself, holding the worker's lock. Only
        with Kiln's default handlers: user code may keep state tied to the worker's thread.
        """
        cost = self._cost
        if cost.batches_seen < 1:
            return False  # nothing known yet (a first call may compile the model): the worker runs it
        fixed, per_request = cost.fit()
        if fixed + per_request >= _RUN_HERE_MAX_SECONDS or self.executor is None:
            return False
        if not self._running.acquire(blocking=False):
            return False
        try:
            if not self._loop_threads_limited:  # OpenMP keeps the thread count per calling thread
                limit_torch_threads(self._settings.torch_threads)
                self._loop_threads_limited = True
            self._run(self.executor, [inv])
        finally:
            self._running.release()
        self._deliver([inv])
        return True

    def _deliver(self, batch: list[Invocation]) -> None:
        """Hand each answer to its caller (event loop thread)."""
        self._in_flight -= len(batch)
        _deliver(batch)


def _deliver(batch: list[Invocation]) -> None:
    for inv in batch:
        reply = inv.reply
        assert reply is not None
        if inv.on_reply is not None:
            try:
                inv.on_reply(reply)
            except Exception:  # one caller's failure must not leave the rest of the batch unanswered
                logger.exception("delivering a reply failed")
            continue
        future = inv.future
        if future is not None and not future.done():  # done: the client went away
            future.set_result(reply)
