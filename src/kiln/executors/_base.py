"""How work runs: the contract every executor (local processes today, Ray on a cluster next) meets."""

from __future__ import annotations

import abc
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.machine import Machine

__all__ = ["UNKNOWN_EXIT", "Executor", "GroupNotPlaced", "LaunchUnit", "Placement", "UnitResources"]

UNKNOWN_EXIT = -255  # the unit ended while no executor was watching it: its exit status is lost


class GroupNotPlaced(Exception):
    """The executor has no room for the group now (a cluster whose free resources are split across
    nodes, or a node that just left): nothing was started, and the caller tries again later instead of
    failing the work."""


@dataclass(frozen=True)
class UnitResources:
    """What one unit holds where it runs: the instance type's share, as the scheduler granted it."""

    cpus: float = 1.0
    memory_bytes: int | None = None  # None: not stated
    gpus: int = 0
    # Cluster resources by name (Ray's custom resources, e.g. an instance type's node label): the unit
    # runs only on a node that has them. An executor of one machine has no such names and ignores them.
    custom: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """Where a group will run, known before its units start: the executor has reserved room for it.

    ``rendezvous`` is where the units meet (torch.distributed's master): on a cluster, the first
    unit's node and a port free there, so it is only known once the group is placed. ``nodes`` names
    each unit's node, in order. ``ref`` is the executor's own (opaque) reference to what it reserved.
    """

    rendezvous: tuple[str, int]
    nodes: tuple[str, ...]
    ref: str = ""
    addresses: tuple[str, ...] = ()  # each unit's node's IP address, where units reach each other


@dataclass(frozen=True)
class LaunchUnit:
    """One process to start: a training job's host, an endpoint's instance.

    A dataclass so that what a unit needs can grow (resources, secrets handed over at launch) without
    changing ``launch_group``'s signature; an executor ignores fields it has no use for.
    """

    command: list[str]
    env: dict[str, str]
    workdir: Path  # the unit's own folder: it starts there and keeps its files there
    log_name: str = "output.log"  # what its output is called among its files
    labels: dict[str, str] = field(default_factory=dict)  # for people: job, host, endpoint, …
    # Files the unit needs in its folder before it starts (names relative to ``workdir``), written
    # 0600 where the unit runs: its spec, its credential (which it reads once and deletes).
    files: dict[str, bytes] = field(default_factory=dict)
    resources: UnitResources = field(default_factory=UnitResources)
    # It talks to the server through a Unix socket (an endpoint's instance): it must run on the
    # server's own machine.
    on_server_node: bool = False


class Executor(abc.ABC):
    """Starts units of work, watches them, stops them, and says what it has room for.

    The contract, which every executor keeps and ``kiln.testing.executors`` checks:

    - **Handles are opaque, persistable strings.** ``launch_group`` answers one per unit; the caller
      stores them (in the metadata database) and passes them back, possibly to another executor
      object in a restarted server. A handle alone must be enough to poll, stop, read the log of and
      read the result of its unit: an executor keeps no state that a restart would lose.
    - **Units outlive the server.** A unit keeps running when the server stops or is killed; a
      restarted server re-attaches through the stored handles. A unit that ended while nobody watched
      it polls as ``UNKNOWN_EXIT``; a handle whose unit is gone is never mistaken for a newer unit.
    - **A group starts together.** ``launch_group`` starts all units of one job (one placement group
      on Ray); if one cannot start, the ones started are stopped and the error is raised.
    - **Stopping is idempotent.** ``stop`` on a unit that ended, or twice, is harmless. ``force=False``
      asks the unit to end (SIGTERM to its process group locally); ``force=True`` ends it and whatever
      it started, even when the unit's own process is already gone.
    - **Results and logs come through the executor**, never through a path only one machine has:
      ``read_log`` is the unit's output so far (its crash log once it ended); ``read_result`` the JSON
      object the unit wrote to the file named by ``$KILN_RESULT_FILE`` before it exited.
    - **Thread safety.** Every method may be called from any thread at any time (request handlers,
      the supervisor, an endpoint's background work) and must not block longer than a file read.
    """

    name: str = ""  # how ``resolve_executor`` knows it
    # Units may run on other machines: CPU and GPU ids the scheduler granted mean nothing there (the
    # executor holds the amounts instead), and the server must be reachable over the network.
    remote: bool = False

    def place_group(self, resources: Sequence[UnitResources]) -> Placement:
        """Reserve room for a group of units with these resources and say where they will run, before
        any starts (their specs name the rendezvous). ``GroupNotPlaced`` when there is no room now.
        Pass the answer to ``launch_group``, or to ``release_placement`` if the launch is abandoned."""
        return Placement(self.rendezvous_address(), tuple(self.node_name() for _ in resources))

    def release_placement(self, placement: Placement) -> None:
        """Give back what ``place_group`` reserved for a group that will not be launched."""
        return None  # nothing is reserved by the default ``place_group``

    @abc.abstractmethod
    def launch_group(self, units: Sequence[LaunchUnit], placement: Placement | None = None) -> list[str]:
        """Start every unit, each in its own process session; one handle per unit, in order. With
        ``placement`` (from ``place_group``), in the room it reserved; without, the executor places
        the group itself."""

    @abc.abstractmethod
    def poll(self, handle: str) -> int | None:
        """None while the unit runs; its exit code once it ended (negative: killed by that signal;
        ``UNKNOWN_EXIT`` when it ended while nobody was watching)."""

    @abc.abstractmethod
    def stop(self, handle: str, *, force: bool = False) -> None:
        """Ask the unit to end (``force``: make it and everything it started end now). Idempotent."""

    @abc.abstractmethod
    def read_log(self, handle: str, *, max_bytes: int = 64 * 1024) -> str:
        """The last ``max_bytes`` of the unit's output; empty if it wrote none."""

    @abc.abstractmethod
    def read_result(self, handle: str) -> dict[str, Any] | None:
        """What the unit left as its result (``$KILN_RESULT_FILE``); None if it left nothing readable."""

    @abc.abstractmethod
    def rendezvous_address(self) -> tuple[str, int]:
        """(host, port) where the units of the next group can meet (torch.distributed's master)."""

    @abc.abstractmethod
    def inventory(self) -> Machine:
        """The CPUs, memory and GPUs this executor can hand out; the scheduler promises no more."""

    def node_name(self, handle: str | None = None) -> str:
        """The node a unit runs on (``handle``), or the server's own node: for people (describe,
        ``kiln cluster``)."""
        return socket.gethostname()

    def server_address(self) -> str:
        """The address of the server's machine as the executor's units reach it (the server listens
        off loopback when units run elsewhere)."""
        return "127.0.0.1"

    def nodes(self) -> list[dict[str, Any]]:
        """The nodes work can run on: ``name``, ``address``, ``alive``, ``cpus``, ``memory_bytes``,
        ``gpus`` (and, on a cluster, its own ``resources``)."""
        machine = self.inventory()
        return [
            {
                "name": self.node_name(),
                "address": "127.0.0.1",
                "alive": True,
                "cpus": float(len(machine.cpus)),
                "memory_bytes": machine.memory_bytes,
                "gpus": float(len(machine.gpus)),
                "resources": {},
            }
        ]

    def lost_node(self, handle: str) -> str | None:
        """The node a unit was lost with (its node left the cluster or died), named for people; None
        while its node is there, and always for an executor with one node (the server's own)."""
        return None

    def find(self, unit: LaunchUnit) -> str | None:
        """The handle of a live unit started with exactly ``unit``'s command by a server that died
        before it stored the handle (between ``launch_group`` and the database write); None if none
        runs. A restarted server adopts it instead of starting the unit a second time. An executor
        that cannot tell answers None."""
        return None

    def read_unrecorded_result(self, unit: LaunchUnit) -> dict[str, Any] | None:
        """The result a unit started with ``unit``'s spec left after it ran to its end unrecorded
        (see ``find``); None if it left none."""
        return None
