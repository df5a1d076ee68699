"""The Ray executor: units run on the nodes of a Ray cluster, each watched by a detached, named actor.

A group is one placement group (one bundle per unit, sized from the unit's resources), so Ray
reserves room for every host of a job together, across nodes. Each unit's actor is a small supervisor
pinned to its bundle's node (it holds no resources itself; the bundle does): it writes the unit's files
into the unit's folder on that node and starts the unit's command as a subprocess in its own session,
as the local executor does. The actor outlives the unit for a while (``linger_seconds``) so the server
can read the exit code, the log and the result; the last actor of a group to see its unit end removes
the placement group, giving its resources back to the cluster.

A handle is ``ray:`` followed by JSON naming the actor (name, namespace), its node (id, address) and
the unit's folder and log: a restarted server re-attaches with ``ray.get_actor``. Ray is imported only
when a ``RayExecutor`` is made, so Kiln works without it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.config import RESULT_FILE_VARIABLE
from kiln.errors import InternalError, ValidationError
from kiln.executors._base import (
    UNKNOWN_EXIT,
    Executor,
    GroupNotPlaced,
    LaunchUnit,
    Placement,
    UnitResources,
)
from kiln.machine import Machine

__all__ = ["HANDLE_PREFIX", "NAMESPACE", "PLACEMENT_STRATEGIES", "RayExecutor"]

HANDLE_PREFIX = "ray:"
NAMESPACE = "kiln"  # every actor and placement group Kiln makes lives here
GROUP_PREFIX = "kiln-group-"  # a placement group's name; its actors' names add "-<index>"
RESULT_FILE_NAME = "result.json"
PLACEMENT_STRATEGIES = ("auto", "STRICT_SPREAD", "SPREAD", "PACK", "STRICT_PACK")
DEFAULT_PLACEMENT_TIMEOUT_SECONDS = 10.0  # how long a group may wait for room before "not yet"
DEFAULT_LINGER_SECONDS = 300.0  # how long an actor keeps a ended unit's status, log and result
CALL_TIMEOUT_SECONDS = 30.0  # one call to an actor: a file read on its node, or a process start
START_TIMEOUT_SECONDS = 120.0  # a fresh actor needs a worker process on its node (seconds when loaded)
NODES_CACHE_SECONDS = 1.0  # the node table, re-read at most this often
INSTALL_HINT = "pip install 'kiln[ray]'"

# Ends the unit's whole session when the actor that started it dies (its node lost, or killed): Ray
# ends its own workers, not what they started in sessions of their own. It polls its parent, which a
# reparenting changes; it leaves when the unit's group is gone.
WATCHDOG = """
import os, signal, sys, time
group, parent = int(sys.argv[1]), int(sys.argv[2])
while True:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        sys.exit(0)
    except PermissionError:
        pass
    if os.getppid() != parent:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        sys.exit(0)
    time.sleep(0.5)
"""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as e:
        raise ValidationError(
            f"the Ray executor needs Ray, which is not installed here ({e}); install it with "
            f"`{INSTALL_HINT}` on the server and on every node, or run with --executor local"
        ) from e
    return ray


class UnitSupervisor:
    """The actor beside one unit, on the unit's node. Its methods are called from the server."""

    def __init__(self, group: list[str], group_name: str, linger_seconds: float) -> None:
        self._group = group  # the actors of the unit's group (this one among them)
        self._group_name = group_name  # its placement group, removed when every unit has ended
        self._linger = linger_seconds
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir = ""
        self._log_name = ""

    def where(self) -> dict[str, Any]:
        """This node (id and address) and a TCP port free on it now: a group's rendezvous port."""
        ray = _import_ray()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("", 0))
            port = int(sock.getsockname()[1])
        return {
            "node": ray.get_runtime_context().get_node_id(),
            "address": ray.util.get_node_ip_address(),
            "port": port,
        }

    def start(
        self, command: list[str], env: dict[str, str], workdir: str, log_name: str, files: dict[str, bytes]
    ) -> dict[str, Any]:
        """Write the unit's files, start it; its pid, or the OSError that kept it from starting."""
        from kiln.executors.local import write_unit_files

        folder = os.path.abspath(workdir)
        try:
            os.makedirs(folder, exist_ok=True)
            unit = LaunchUnit(command=command, env=env, workdir=Path(folder), files=files)
            write_unit_files(unit)
            result = os.path.join(folder, RESULT_FILE_NAME)
            if os.path.exists(result):
                os.unlink(result)  # a result left by an earlier attempt is not this one's
            with open(os.path.join(folder, log_name), "ab") as log:
                process = subprocess.Popen(
                    command,
                    env={**env, RESULT_FILE_VARIABLE: result},
                    cwd=folder,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as e:
            return {"errno": e.errno, "error": str(e)}
        with self._lock:
            self._process, self._workdir, self._log_name = process, folder, log_name
        subprocess.Popen(
            [sys.executable, "-c", WATCHDOG, str(process.pid), str(os.getpid())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a stop of the unit's group does not end its watchdog
        )
        threading.Thread(target=self._watch, args=(process,), daemon=True).start()
        return {"pid": process.pid}

    def poll(self) -> int | None:
        with self._lock:
            process = self._process
        return None if process is None else process.poll()

    def stop(self, force: bool) -> None:
        with self._lock:
            process = self._process
        if process is None or (not force and process.poll() is not None):
            return
        try:
            os.killpg(process.pid, signal.SIGKILL if force else signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass

    def read_log(self, max_bytes: int) -> str:
        if not self._workdir:
            return ""
        try:
            with open(os.path.join(self._workdir, self._log_name), "rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(0, size - max_bytes))
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def read_result(self) -> dict[str, Any] | None:
        if not self._workdir:
            return None
        try:
            with open(os.path.join(self._workdir, RESULT_FILE_NAME)) as file:
                result = json.load(file)
        except (OSError, ValueError):
            return None
        return result if isinstance(result, dict) else None

    def _watch(self, process: subprocess.Popen[bytes]) -> None:
        ray = _import_ray()
        process.wait()
        self._end_group(ray)
        time.sleep(self._linger)  # the server reads the exit code, the log and the result meanwhile
        try:
            ray.kill(ray.get_runtime_context().current_actor)
        except Exception:
            os._exit(0)

    def _end_group(self, ray: Any) -> None:
        """Give the group's room back once every unit of it has ended (whoever sees it last)."""
        me = ray.get_runtime_context().get_actor_name()
        for name in self._group:
            if name == me:
                continue
            try:
                sibling = ray.get_actor(name, namespace=NAMESPACE)
                if ray.get(sibling.poll.remote(), timeout=CALL_TIMEOUT_SECONDS) is None:
                    return  # it still runs: it removes the group when it ends
            except Exception:
                continue  # gone (its node lost, or long ended): it holds nothing
        _remove_group(ray, self._group_name)


def _remove_group(ray: Any, name: str) -> None:
    if not name:
        return
    from ray.util import get_placement_group, remove_placement_group

    try:
        remove_placement_group(get_placement_group(name))
    except Exception:
        pass  # already removed (two units ended at once)


@dataclass(frozen=True)
class _Unit:
    """What a Ray handle names."""

    actor: str
    namespace: str
    node: str  # Ray's node id
    address: str  # the node's IP address
    workdir: str
    log_name: str

    def handle(self) -> str:
        fields = {
            "actor": self.actor,
            "ns": self.namespace,
            "node": self.node,
            "address": self.address,
            "dir": self.workdir,
            "log": self.log_name,
        }
        return HANDLE_PREFIX + json.dumps(fields, separators=(",", ":"))

    @classmethod
    def parse(cls, handle: str) -> _Unit:
        if not handle.startswith(HANDLE_PREFIX):
            raise InternalError(f"{handle!r} is not a handle of the Ray executor")
        try:
            f = json.loads(handle[len(HANDLE_PREFIX) :])
            return cls(
                str(f["actor"]), str(f["ns"]), str(f["node"]), str(f["address"]), str(f["dir"]), str(f["log"])
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InternalError(f"the Ray executor cannot read handle {handle!r}: {e}") from e

    @property
    def node_name(self) -> str:
        return f"{self.node[:12]}@{self.address}"


def _group_of(actor: str) -> str:
    """The placement group a unit's actor was made for (``place_group`` names it ``<group>-<i>``);
    empty for an actor outside any group."""
    group, _, index = actor.rpartition("-")
    return group if group.startswith(GROUP_PREFIX) and index.isdigit() else ""


def _actor_name(labels: dict[str, str]) -> str:
    described = "-".join(f"{k}={v}" for k, v in sorted(labels.items()))[:120]
    return f"kiln-{described}-{uuid.uuid4().hex[:12]}" if described else f"kiln-{uuid.uuid4().hex}"


class RayExecutor(Executor):
    """Units on a Ray cluster. ``address``: the cluster's (``ray start --head`` prints it; "auto":
    the cluster this machine belongs to). ``strategy``: how a group's bundles spread over nodes
    ("auto": STRICT_SPREAD when there are as many alive nodes as units, PACK otherwise)."""

    name = "ray"
    remote = True

    def __init__(
        self,
        address: str = "auto",
        *,
        strategy: str = "auto",
        placement_timeout_seconds: float = DEFAULT_PLACEMENT_TIMEOUT_SECONDS,
        linger_seconds: float = DEFAULT_LINGER_SECONDS,
    ) -> None:
        if strategy not in PLACEMENT_STRATEGIES:
            raise ValidationError(
                f"Ray placement strategy {strategy!r} is not one of {', '.join(PLACEMENT_STRATEGIES)}"
            )
        self._ray = _import_ray()
        if not self._ray.is_initialized():
            try:
                self._ray.init(
                    address=address or "auto",
                    namespace=NAMESPACE,
                    log_to_driver=False,
                    logging_level="WARNING",
                    configure_logging=False,
                )
            except (ConnectionError, RuntimeError) as e:
                raise ValidationError(
                    f"cannot reach the Ray cluster at {address!r}: {e}; start one with `ray start --head` "
                    "and pass the address it prints (--ray-address / KILN_RAY_ADDRESS)"
                ) from e
        self.strategy = strategy
        self.placement_timeout_seconds = placement_timeout_seconds
        self.linger_seconds = linger_seconds
        self._supervisor = self._ray.remote(UnitSupervisor)
        self._actors: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._nodes: list[dict[str, Any]] = []
        self._nodes_read_at = 0.0

    # -- the cluster ----------------------------------------------------------------------------------

    def _node_table(self) -> list[dict[str, Any]]:
        with self._lock:
            if time.monotonic() - self._nodes_read_at > NODES_CACHE_SECONDS:
                self._nodes = list(self._ray.nodes())
                self._nodes_read_at = time.monotonic()
            return self._nodes

    def _alive(self) -> list[dict[str, Any]]:
        return [n for n in self._node_table() if n.get("Alive")]

    def _node_alive(self, node: str) -> bool:
        with self._lock:
            self._nodes_read_at = 0.0  # a death is news: read the table again
        return any(n["NodeID"] == node for n in self._alive())

    def nodes(self) -> list[dict[str, Any]]:
        found = []
        for n in self._node_table():
            resources = dict(n.get("Resources") or {})
            found.append(
                {
                    "name": f"{n['NodeID'][:12]}@{n['NodeManagerAddress']}",
                    "id": n["NodeID"],
                    "address": n["NodeManagerAddress"],
                    "alive": bool(n.get("Alive")),
                    "cpus": float(resources.pop("CPU", 0.0)),
                    "memory_bytes": int(resources.pop("memory", 0)),
                    "gpus": float(resources.pop("GPU", 0.0)),
                    "resources": {
                        k: v
                        for k, v in resources.items()
                        if not k.startswith("node:")
                        and k not in ("object_store_memory", "bundle")
                        and "_group_" not in k
                    },
                }
            )
        return found

    def inventory(self) -> Machine:
        alive = [n for n in self.nodes() if n["alive"]]
        cpus = int(sum(n["cpus"] for n in alive))
        gpus = int(sum(n["gpus"] for n in alive))
        return Machine(
            cpus=tuple(range(cpus)),
            memory_bytes=sum(n["memory_bytes"] for n in alive),
            gpus=tuple(range(gpus)),
            largest_node_cpus=int(max((n["cpus"] for n in alive), default=0)),
            largest_node_memory_bytes=max((n["memory_bytes"] for n in alive), default=0),
        )

    def rendezvous_address(self) -> tuple[str, int]:
        # Without a placement: this node (the server's), as for a group that runs here.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("", 0))
            return str(self._ray.util.get_node_ip_address()), int(sock.getsockname()[1])

    def server_address(self) -> str:
        return str(self._ray.util.get_node_ip_address())

    def node_name(self, handle: str | None = None) -> str:
        if handle is None:
            node = self._ray.get_runtime_context().get_node_id()
            return f"{node[:12]}@{self._ray.util.get_node_ip_address()}"
        return _Unit.parse(handle).node_name

    # -- placing and starting -------------------------------------------------------------------------

    def _strategy(self, count: int) -> str:
        if self.strategy != "auto":
            return self.strategy
        workers = [n for n in self._alive() if (n.get("Resources") or {}).get("CPU", 0) > 0]
        return "STRICT_SPREAD" if len(workers) >= count else "PACK"

    def place_group(self, resources: Sequence[UnitResources]) -> Placement:
        from ray.util import placement_group, placement_group_table
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        bundles = []
        for r in resources:
            bundle = {"CPU": float(r.cpus)}
            if r.gpus:
                bundle["GPU"] = float(r.gpus)
            bundle.update(r.custom)  # an instance type's node label: only nodes started with it take it
            bundles.append(bundle)
        self._check_custom_resources(bundles)
        strategy = self._strategy(len(bundles))
        group_name = f"{GROUP_PREFIX}{uuid.uuid4().hex}"
        group = placement_group(bundles, strategy=strategy, name=group_name, lifetime="detached")
        names = [f"{group_name}-{i}" for i in range(len(bundles))]
        actors: list[Any] = []
        try:
            if not group.wait(timeout_seconds=self.placement_timeout_seconds):
                raise GroupNotPlaced(
                    f"the Ray cluster has no room now for {len(bundles)} × {bundles[0] if bundles else {}} "
                    f"({strategy}); waited {self.placement_timeout_seconds:g} s"
                )
            table = placement_group_table(group)["bundles_to_node_id"]
            for i, name in enumerate(names):
                actors.append(
                    self._supervisor.options(
                        name=name,
                        namespace=NAMESPACE,
                        lifetime="detached",
                        num_cpus=0,
                        max_concurrency=8,
                        scheduling_strategy=NodeAffinitySchedulingStrategy(table[i], soft=False),
                    ).remote(names, group_name, self.linger_seconds)
                )
            where = self._ray.get([a.where.remote() for a in actors], timeout=START_TIMEOUT_SECONDS)
        except BaseException:
            self._abandon(actors, group_name)
            raise
        with self._lock:
            self._actors.update(zip(names, actors, strict=True))
        ref = json.dumps({"group": group_name, "actors": names, "where": where}, separators=(",", ":"))
        first: dict[str, Any] = where[0] if where else {"address": "127.0.0.1", "port": 0}
        nodes = tuple(f"{w['node'][:12]}@{w['address']}" for w in where)
        addresses = tuple(str(w["address"]) for w in where)
        return Placement((str(first["address"]), int(first["port"])), nodes, ref, addresses)

    def _check_custom_resources(self, bundles: Sequence[dict[str, float]]) -> None:
        """GroupNotPlaced naming a custom resource that no alive node has enough of: Ray would only
        keep the group pending, and "no room" would hide that the cluster lacks the label itself."""
        alive = self._alive()
        for name in sorted({k for b in bundles for k in b if k not in ("CPU", "GPU")}):
            wanted = max(b.get(name, 0.0) for b in bundles)
            most = max((float((n.get("Resources") or {}).get(name, 0.0)) for n in alive), default=0.0)
            if most < wanted:
                raise GroupNotPlaced(
                    f"no alive node of the Ray cluster has resource {name!r} ({wanted:g} per unit; the most "
                    f"any node has: {most:g}); start a node with `ray start --resources "
                    f"'{{\"{name}\": {wanted:g}}}'` or change the instance type's node_resources"
                )

    def _abandon(self, actors: Sequence[Any], group_name: str) -> None:
        for actor in actors:
            try:
                self._ray.kill(actor)
            except Exception:
                pass
        _remove_group(self._ray, group_name)

    def release_placement(self, placement: Placement) -> None:
        ref = json.loads(placement.ref)
        actors = []
        for name in ref["actors"]:
            try:
                actors.append(self._ray.get_actor(name, namespace=NAMESPACE))
            except ValueError:
                continue
        self._abandon(actors, ref["group"])

    def _server_node_placement(self, count: int) -> Placement:
        """Units that must run beside the server (Unix sockets): actors pinned to this node."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = self._ray.get_runtime_context().get_node_id()
        names = [_actor_name({}) for _ in range(count)]
        actors = [
            self._supervisor.options(
                name=name,
                namespace=NAMESPACE,
                lifetime="detached",
                num_cpus=0,
                max_concurrency=8,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False),
            ).remote([name], "", self.linger_seconds)
            for name in names
        ]
        try:
            where = self._ray.get([a.where.remote() for a in actors], timeout=START_TIMEOUT_SECONDS)
        except BaseException:
            self._abandon(actors, "")
            raise
        with self._lock:
            self._actors.update(zip(names, actors, strict=True))
        ref = json.dumps({"group": "", "actors": names, "where": where}, separators=(",", ":"))
        nodes = tuple(f"{w['node'][:12]}@{w['address']}" for w in where)
        return Placement((str(where[0]["address"]), int(where[0]["port"])), nodes, ref)

    def launch_group(self, units: Sequence[LaunchUnit], placement: Placement | None = None) -> list[str]:
        if not units:
            return []
        if placement is None:
            if all(u.on_server_node for u in units):
                placement = self._server_node_placement(len(units))
            else:
                placement = self.place_group([u.resources for u in units])
        ref = json.loads(placement.ref)
        actors = [self._actor(name) for name in ref["actors"]]
        try:
            answers = self._ray.get(
                [
                    actor.start.remote(u.command, u.env, str(u.workdir), u.log_name, u.files)
                    for actor, u in zip(actors, units, strict=True)
                ],
                timeout=START_TIMEOUT_SECONDS,
            )
            for answer in answers:
                if "error" in answer:
                    raise OSError(answer.get("errno"), answer["error"])
        except BaseException:
            for actor in actors:
                try:
                    self._ray.get(actor.stop.remote(True), timeout=CALL_TIMEOUT_SECONDS)
                except Exception:
                    pass
            self._abandon(actors, ref["group"])
            raise
        return [
            _Unit(name, NAMESPACE, w["node"], w["address"], str(u.workdir), u.log_name).handle()
            for name, w, u in zip(ref["actors"], ref["where"], units, strict=True)
        ]

    # -- watching -------------------------------------------------------------------------------------

    def _actor(self, name: str) -> Any:
        with self._lock:
            actor = self._actors.get(name)
        if actor is None:
            actor = self._ray.get_actor(name, namespace=NAMESPACE)  # ValueError: it is gone
            with self._lock:
                self._actors[name] = actor
        return actor

    def _call(self, handle: str, method: str, *args: Any) -> tuple[bool, Any]:
        """(True, the answer) from the unit's actor; (False, None) when the actor is gone."""
        unit = _Unit.parse(handle)
        try:
            actor = self._actor(unit.actor)
            return True, self._ray.get(getattr(actor, method).remote(*args), timeout=CALL_TIMEOUT_SECONDS)
        except ValueError:
            return False, None
        except self._ray.exceptions.GetTimeoutError:
            raise
        except self._ray.exceptions.RayActorError:
            with self._lock:
                self._actors.pop(unit.actor, None)
            return False, None

    def lost_node(self, handle: str) -> str | None:
        """The node a unit was lost with (its actor gone and its node dead); None otherwise."""
        unit = _Unit.parse(handle)
        return None if self._node_alive(unit.node) else unit.node_name

    def poll(self, handle: str) -> int | None:
        try:
            reached, code = self._call(handle, "poll")
        except self._ray.exceptions.GetTimeoutError:
            return None  # its node is slow to answer: it runs as far as anyone knows
        if not reached:
            return UNKNOWN_EXIT
        return None if code is None else int(str(code))  # an int from the actor

    def stop(self, handle: str, *, force: bool = False) -> None:
        try:
            reached, _ = self._call(handle, "stop", force)
        except self._ray.exceptions.GetTimeoutError:
            return
        if not reached and (force or self.lost_node(handle) is not None):
            # Its actor is gone (its node lost): no actor of the group may be left to see the last
            # unit end and remove the group, which Ray would otherwise re-place on the nodes left
            # and hold for ever, keeping the room a replacement needs. The caller stops the
            # group's other units too.
            _remove_group(self._ray, _group_of(_Unit.parse(handle).actor))

    def read_log(self, handle: str, *, max_bytes: int = 64 * 1024) -> str:
        try:
            reached, text = self._call(handle, "read_log", max_bytes)
        except self._ray.exceptions.GetTimeoutError:
            return ""
        if reached:
            return str(text)
        lost = self.lost_node(handle)
        if lost is not None:
            return f"Kiln: node {lost} was lost, and the unit with it"
        return ""

    def read_result(self, handle: str) -> dict[str, Any] | None:
        try:
            reached, result = self._call(handle, "read_result")
        except self._ray.exceptions.GetTimeoutError:
            return None
        return result if reached and isinstance(result, dict) else None
