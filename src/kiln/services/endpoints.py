"""Hosting as use-cases: models, endpoint configs, endpoints, and keeping their instances serving.

Endpoint changes run in the background (SageMaker's operations return at once and the status tells
the rest): creating starts every instance and goes InService when all answer; an update starts the
new config's instances, switches traffic in one step, then drains and stops the old ones, so no
request fails during the swap; a dead instance is replaced while its siblings keep serving.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kiln.artifacts import ArtifactStore
from kiln.config import Settings
from kiln.errors import Conflict, ValidationError
from kiln.executors import Executor
from kiln.metadata import Database, hosting
from kiln.records import (
    CapacityUse,
    Endpoint,
    EndpointConfigRecord,
    EndpointInstance,
    EndpointRoutes,
    EndpointStatus,
    InstanceState,
    ModelRecord,
    VariantRoute,
    utcnow,
)
from kiln.scheduler import Scheduler, get_instance_type
from kiln.services.endpoint_instances import InstanceStartFailed
from kiln.services.hosting_request import (
    CreateEndpointConfigRequest,
    CreateEndpointRequest,
    CreateModelRequest,
    UpdateEndpointRequest,
    UpdateWeightsRequest,
)
from kiln.services.hosting_validation import validate_endpoint_config, validate_model
from kiln.services.instance_fleet import InstanceFleet, RunningProcess
from kiln.services.status_filter import parse_status

log = logging.getLogger("kiln.services.endpoints")

__all__ = ["EndpointService"]

DRAIN_TIMEOUT_SECONDS = 65.0  # longer than SageMaker's 60 s model time: every held request is answered
RESTART_BACKOFF_SECONDS = 2.0


class RoutingTable(Protocol):
    """What the service needs of the runtime router (the server's ``RuntimeRouter`` is one)."""

    known_endpoint: Callable[[str], str | None]
    link_secret: Callable[[str], bytes | None]  # the secret a TCP instance's link presents, by id

    def publish(self, routes: EndpointRoutes) -> None: ...

    def withdraw(self, name: str) -> None: ...

    def in_flight(self, instance_id: str) -> int: ...

    def forget_instance(self, instance_id: str) -> None: ...


@dataclass
class EndpointService:
    settings: Settings
    db: Database
    store: ArtifactStore
    executor: Executor
    router: RoutingTable
    _busy: set[str] = field(default_factory=set)  # endpoints with a change under way
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _restart_after: dict[str, float] = field(default_factory=dict)
    # Capacity: every variant's instances hold a reservation while the endpoint exists (limits and cost).
    scheduler: Scheduler | None = None  # the server's; endpoints then hold capacity like jobs
    fleet: InstanceFleet = field(init=False)  # starts and stops the instances (shared with transform)

    def __post_init__(self) -> None:
        self.router.known_endpoint = self._status_of
        # On a cluster, an endpoint's instances run on any node (a transform job's stay beside the server).
        self.fleet = InstanceFleet(self.settings, self.store, self.executor, anywhere=True)
        self.router.link_secret = self.fleet.link_secret

    def _status_of(self, name: str) -> str | None:
        endpoint = hosting.find_endpoint(self.db, name)
        return None if endpoint is None else endpoint.status.value

    # -- models and configs ---------------------------------------------------------------------------

    def create_model(
        self, request: CreateModelRequest, *, as_submitted: dict[str, Any] | None = None
    ) -> ModelRecord:
        """Check what needs the store, then store the model. A door that keeps members Kiln does not
        act on (the AWS wire, to echo them in Describe) passes the request ``as_submitted``."""
        validate_model(request, self.store)
        spec = dict(as_submitted) if as_submitted is not None else request.spec
        return hosting.insert_model(self.db, request.ModelName, spec, utcnow())

    def describe_model(self, name: str) -> ModelRecord:
        return hosting.get_model(self.db, name)

    def list_models(self, limit: int = 100) -> list[ModelRecord]:
        return hosting.list_models(self.db, limit)

    def delete_model(self, name: str) -> None:
        hosting.delete_model(self.db, name)

    def create_endpoint_config(
        self, request: CreateEndpointConfigRequest, *, as_submitted: dict[str, Any] | None = None
    ) -> EndpointConfigRecord:
        """Check the variants' models and instance types, then store the config (``as_submitted`` as
        for ``create_model``)."""
        catalog = self.scheduler.instance_type if self.scheduler is not None else get_instance_type
        validate_endpoint_config(request, self.db, catalog)
        spec = dict(as_submitted) if as_submitted is not None else request.spec
        return hosting.insert_endpoint_config(self.db, request.EndpointConfigName, spec, utcnow())

    def describe_endpoint_config(self, name: str) -> EndpointConfigRecord:
        return hosting.get_endpoint_config(self.db, name)

    def list_endpoint_configs(self, limit: int = 100) -> list[EndpointConfigRecord]:
        return hosting.list_endpoint_configs(self.db, limit)

    def delete_endpoint_config(self, name: str) -> None:
        hosting.delete_endpoint_config(self.db, name)

    # -- endpoints ------------------------------------------------------------------------------------

    def describe(self, name: str) -> Endpoint:
        return hosting.get_endpoint(self.db, name)

    def list_endpoints(self, status: str | None = None, limit: int = 100) -> list[Endpoint]:
        wanted = parse_status(EndpointStatus, status, "endpoint")
        return hosting.list_endpoints(self.db, status=wanted, limit=limit)

    def _owner(self, name: str, config: str, variant: str) -> str:
        return f"endpoint/{name}/{config}/{variant}"

    def _reserve(self, name: str, config: EndpointConfigRecord) -> None:
        """Hold capacity for every variant of ``config``, or refuse at once and hold nothing."""
        if self.scheduler is None:
            return
        taken: list[str] = []
        try:
            for variant in config.variants:
                owner = self._owner(name, config.name, variant["VariantName"])
                self.scheduler.reserve(
                    CapacityUse.ENDPOINT,
                    owner,
                    str(variant.get("InstanceType", "local")),
                    int(variant.get("InitialInstanceCount", 1)),
                    queue=False,
                )
                taken.append(owner)
        except Exception:
            for owner in taken:
                self.scheduler.release(owner, forget=True)
            raise

    def _resize_reservations(
        self, name: str, config_name: str, old: dict[str, int], new: dict[str, int]
    ) -> None:
        """Each resized variant's reservation follows its new instance count, or, if one is refused
        (over the account limit, or no room), every reservation keeps its old count."""
        if self.scheduler is None:
            return
        done: list[str] = []
        try:
            for variant, count in new.items():
                if count != old.get(variant):
                    self.scheduler.resize(self._owner(name, config_name, variant), count)
                    done.append(variant)
        except Exception:
            for variant in done:
                self.scheduler.resize(self._owner(name, config_name, variant), old[variant])
            raise

    def _release(self, name: str, config: EndpointConfigRecord) -> None:
        if self.scheduler is None:
            return
        for variant in config.variants:
            self.scheduler.release(self._owner(name, config.name, variant["VariantName"]))

    def _release_all(self, name: str) -> None:
        """Every reservation the endpoint holds, found by owner: SageMaker's SDK deletes the endpoint
        config before the endpoint, so the config may no longer name them."""
        if self.scheduler is None:
            return
        prefix = f"endpoint/{name}/"  # as _owner names them
        for reservation in self.scheduler.live():
            if reservation.owner.startswith(prefix):
                self.scheduler.release(reservation.owner)

    def create_endpoint(self, request: CreateEndpointRequest) -> Endpoint:
        name, config_name = request.EndpointName, request.EndpointConfigName
        config = hosting.get_endpoint_config(self.db, config_name)
        weights = {v["VariantName"]: float(v.get("InitialVariantWeight", 1.0)) for v in config.variants}
        counts = {v["VariantName"]: int(v.get("InitialInstanceCount", 1)) for v in config.variants}
        if hosting.find_endpoint(self.db, name) is not None:
            raise hosting.ENDPOINTS.already_exists(name)
        self._reserve(name, config)
        try:
            endpoint = hosting.insert_endpoint(self.db, name, config_name, weights, counts, utcnow())
        except Exception:
            self._release(name, config)
            raise
        self.router.publish(EndpointRoutes(name, EndpointStatus.CREATING.value))
        self._in_background(name, self._bring_up, name, config)
        return endpoint

    def update_endpoint(self, name: str, request: UpdateEndpointRequest) -> Endpoint:
        endpoint = hosting.get_endpoint(self.db, name)
        config = hosting.get_endpoint_config(self.db, request.EndpointConfigName)
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            raise Conflict(
                f"Endpoint {name} is {endpoint.status.value}; it can be updated only when InService."
            )
        self._reserve(name, config)
        updated = hosting.update_endpoint(
            self.db, name, utcnow(), status=EndpointStatus.UPDATING, failure_reason=None
        )
        self._publish(updated)
        self._in_background(name, self._swap_config, name, config)
        return updated

    def update_weights_and_capacities(self, name: str, request: UpdateWeightsRequest) -> Endpoint:
        endpoint = hosting.get_endpoint(self.db, name)
        if endpoint.status is not EndpointStatus.IN_SERVICE:
            raise Conflict(
                f"Endpoint {name} is {endpoint.status.value}; it can be updated only when InService."
            )
        weights, counts = dict(endpoint.weights), dict(endpoint.counts)
        for change in request.DesiredWeightsAndCapacities:
            variant = change.VariantName
            if variant not in weights:
                raise ValidationError(
                    f"Endpoint {name} has no variant {variant!r}; its variants are {', '.join(weights)}"
                )
            # The request's shape already holds weights ≥ 0 and counts ≥ 1.
            if change.DesiredWeight is not None:
                weights[variant] = float(change.DesiredWeight)
            if change.DesiredInstanceCount is not None:
                counts[variant] = change.DesiredInstanceCount
        resized = counts != endpoint.counts
        self._resize_reservations(name, endpoint.config_name, endpoint.counts, counts)
        updated = hosting.update_endpoint(
            self.db,
            name,
            utcnow(),
            weights=weights,
            counts=counts,
            status=EndpointStatus.UPDATING if resized else EndpointStatus.IN_SERVICE,
        )
        self._publish(updated)  # new weights apply to the very next request
        if resized:
            self._in_background(name, self._resize, name)
        return updated

    def delete_endpoint(self, name: str) -> None:
        endpoint = hosting.get_endpoint(self.db, name)
        hosting.update_endpoint(self.db, name, utcnow(), status=EndpointStatus.DELETING)
        self.router.withdraw(name)
        self._stop_instances(list(endpoint.instances), drain=False)
        self._release_all(name)
        hosting.delete_endpoint_row(self.db, name)
        self.router.withdraw(name)

    def logs(self, name: str, tail: int = 200) -> list[dict[str, Any]]:
        endpoint = hosting.get_endpoint(self.db, name)
        result = []
        for instance in endpoint.instances:
            text = "" if instance.handle is None else self.executor.read_log(instance.handle)
            lines = text.splitlines()[-tail:]
            result.append({"InstanceId": instance.instance_id, "Variant": instance.variant, "Lines": lines})
        return result

    # -- background work ------------------------------------------------------------------------------

    def _in_background(self, name: str, work: Any, *args: Any) -> None:
        with self._lock:
            if name in self._busy:
                raise Conflict(f"Endpoint {name} is already being changed; wait until it is InService.")
            self._busy.add(name)

        def run() -> None:
            try:
                work(*args)
            except Exception as e:  # the boundary: an endpoint change never takes the server down
                endpoint = hosting.find_endpoint(self.db, name)
                if endpoint is not None:
                    hosting.update_endpoint(
                        self.db,
                        name,
                        utcnow(),
                        status=EndpointStatus.FAILED,
                        failure_reason=f"InternalError: {e}",
                    )
                    self._publish(hosting.get_endpoint(self.db, name))
            finally:
                with self._lock:
                    self._busy.discard(name)

        threading.Thread(target=run, name=f"kiln-endpoint-{name}", daemon=True).start()

    def _instance_dir(self, endpoint: str, instance_id: str) -> Path:
        return self.settings.home / "endpoints" / endpoint / instance_id

    def _instance_cpus(self, name: str, config_name: str, variant: str) -> int | None:
        """On a cluster, the CPUs each instance of the variant holds on its node: its instance type's
        vCPUs as its reservation sized them (at most the largest node's). None: the fleet's own
        default (beside the server, instances share the machine; ``local`` on a cluster: one CPU)."""
        if self.scheduler is None or not self.fleet.spreads:
            return None
        reservation = self.scheduler.find(self._owner(name, config_name, variant))
        if reservation is None or reservation.instance_type == "local":
            return None
        return reservation.cpus_per_instance or None

    def _node_resources(self, variant: dict[str, Any]) -> dict[str, float]:
        """On a cluster, what each instance of the variant asks of its node besides CPUs: its instance
        type's node resources (an operator's label), so it runs only on the nodes that have them."""
        if self.scheduler is None or not self.fleet.spreads:
            return {}
        return self.scheduler.instance_type(str(variant.get("InstanceType", "local"))).node_resources

    def _start_instances(self, name: str, config: EndpointConfigRecord, counts: dict[str, int]) -> list[str]:
        """Start instances for every variant of ``config`` (``counts`` of each) and wait until all
        serve; on any failure, stop the ones started and raise InstanceStartFailed."""
        started: list[str] = []
        try:
            launches = []
            for variant in config.variants:
                model = hosting.get_model(self.db, variant["ModelName"])
                prepared = self.fleet.prepare(model)
                cpus = self._instance_cpus(name, config.name, variant["VariantName"])
                node_resources = self._node_resources(variant)
                for _ in range(counts.get(variant["VariantName"], 0)):
                    instance_id = f"{variant['VariantName']}-{uuid.uuid4().hex[:8]}"
                    hosting.insert_instance(
                        self.db, name, instance_id, variant["VariantName"], config.name, utcnow()
                    )
                    started.append(instance_id)
                    launched = self.fleet.launch(
                        model,
                        prepared,
                        self._instance_dir(name, instance_id),
                        threads=cpus,
                        node_resources=node_resources,
                    )
                    hosting.update_instance(
                        self.db,
                        instance_id,
                        handle=launched.handle,
                        socket_path=launched.socket_path or None,  # on TCP: known once it is ready
                    )
                    launches.append((instance_id, launched))
            for instance_id, launched in launches:
                ready = self.fleet.wait_ready(launched)
                hosting.update_instance(
                    self.db,
                    instance_id,
                    state=InstanceState.SERVING,
                    port=ready.port,
                    socket_path=ready.address,
                )
        except InstanceStartFailed as e:
            endpoint = hosting.get_endpoint(self.db, name)
            self._stop_instances([i for i in endpoint.instances if i.instance_id in started], drain=False)
            for instance_id in started:
                hosting.update_instance(
                    self.db, instance_id, state=InstanceState.FAILED, failure_reason=str(e)
                )
            raise
        return started

    def _bring_up(self, name: str, config: EndpointConfigRecord) -> None:
        endpoint = hosting.get_endpoint(self.db, name)
        try:
            self._start_instances(name, config, endpoint.counts)
        except InstanceStartFailed as e:
            failed = hosting.update_endpoint(
                self.db, name, utcnow(), status=EndpointStatus.FAILED, failure_reason=str(e)
            )
            self._publish(failed)
            self._release(name, config)  # a failed endpoint holds no capacity and accrues no cost
            return
        now = utcnow()
        ready = hosting.update_endpoint(
            self.db, name, now, status=EndpointStatus.IN_SERVICE, in_service_since=now
        )
        self._publish(ready)

    def _swap_config(self, name: str, config: EndpointConfigRecord) -> None:
        """Blue/green: the new config's instances serve before the old ones stop."""
        old = hosting.get_endpoint(self.db, name)
        counts = {v["VariantName"]: int(v.get("InitialInstanceCount", 1)) for v in config.variants}
        weights = {v["VariantName"]: float(v.get("InitialVariantWeight", 1.0)) for v in config.variants}
        try:
            self._start_instances(name, config, counts)
        except InstanceStartFailed as e:
            kept = hosting.update_endpoint(
                self.db,
                name,
                utcnow(),
                status=EndpointStatus.IN_SERVICE,
                failure_reason=f"Update failed: {e}",
            )
            self._publish(kept)  # the old config keeps serving
            self._release(name, config)
            return
        swapped = hosting.update_endpoint(
            self.db,
            name,
            utcnow(),
            config_name=config.name,
            weights=weights,
            counts=counts,
            status=EndpointStatus.IN_SERVICE,
        )
        self._publish(swapped)  # one step: new requests go to the new instances only
        self._stop_instances([i for i in old.instances if i.state.is_live()], drain=True)
        if old.config_name != config.name:
            self._release(name, hosting.get_endpoint_config(self.db, old.config_name))

    def _resize(self, name: str) -> None:
        endpoint = hosting.get_endpoint(self.db, name)
        config = hosting.get_endpoint_config(self.db, endpoint.config_name)
        live = [i for i in endpoint.instances if i.state is InstanceState.SERVING]
        missing: dict[str, int] = {}
        surplus: list[EndpointInstance] = []
        for variant, wanted in endpoint.counts.items():
            have = [i for i in live if i.variant == variant]
            if len(have) < wanted:
                missing[variant] = wanted - len(have)
            surplus.extend(have[wanted:])
        try:
            if missing:
                self._start_instances(name, config, missing)
        except InstanceStartFailed as e:
            hosting.update_endpoint(self.db, name, utcnow(), failure_reason=f"Scaling failed: {e}")
        resized = hosting.update_endpoint(self.db, name, utcnow(), status=EndpointStatus.IN_SERVICE)
        surplus_ids = {i.instance_id for i in surplus}
        for instance in surplus:
            hosting.update_instance(self.db, instance.instance_id, state=InstanceState.DRAINING)
        self._publish(hosting.get_endpoint(self.db, name) if surplus_ids else resized)
        self._stop_instances(surplus, drain=True)

    def _stop_instances(self, instances: list[EndpointInstance], *, drain: bool) -> None:
        """Out of rotation first (the caller published routes without them), then drained, then stopped."""
        for instance in instances:
            hosting.update_instance(self.db, instance.instance_id, state=InstanceState.DRAINING)
        if drain:
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            while time.monotonic() < deadline and any(
                self.router.in_flight(i.instance_id) for i in instances
            ):
                time.sleep(0.02)
        for instance in instances:
            # Close the server's link first: a graceful instance waits for open connections to end.
            self.router.forget_instance(instance.instance_id)
        self.fleet.stop(RunningProcess(i.handle, i.socket_path) for i in instances)
        for instance in instances:
            self.router.forget_instance(instance.instance_id)
            hosting.update_instance(self.db, instance.instance_id, state=InstanceState.STOPPED)

    # -- routing --------------------------------------------------------------------------------------

    def _publish(self, endpoint: Endpoint) -> None:
        variants = tuple(
            VariantRoute(
                variant,
                weight,
                tuple(
                    (i.instance_id, i.socket_path)
                    for i in endpoint.instances
                    if i.variant == variant
                    and i.config_name == endpoint.config_name
                    and i.state is InstanceState.SERVING
                    and i.socket_path
                ),
            )
            for variant, weight in endpoint.weights.items()
        )
        self.router.publish(EndpointRoutes(endpoint.name, endpoint.status.value, variants))

    # -- supervision ----------------------------------------------------------------------------------

    def restore_routes(self) -> None:
        """After a server start: publish every endpoint's live instances; dead ones are replaced by
        the next supervision pass."""
        for endpoint in hosting.list_endpoints(self.db, limit=10_000):
            self._publish(endpoint)
            if endpoint.status is EndpointStatus.CREATING:
                # The server that was creating it died: its thread is gone, so nothing would ever
                # finish the job and the endpoint would stay Creating forever.
                config = hosting.get_endpoint_config(self.db, endpoint.config_name)
                self._in_background(endpoint.name, self._resume_creation, endpoint, config)
            elif endpoint.status is EndpointStatus.UPDATING or any(
                i.state.is_live()
                and (i.config_name != endpoint.config_name or i.state is not InstanceState.SERVING)
                for i in endpoint.instances
            ):
                self._in_background(endpoint.name, self._tidy_interrupted_change, endpoint)

    def _tidy_interrupted_change(self, endpoint: Endpoint) -> None:
        """Finish what a killed server left half done: an update (rolled back: the old config never
        stopped serving), a replacement instance that was starting, old instances being drained."""
        name = endpoint.name
        log.warning("tidying endpoint %s after a server restart interrupted a change", name)
        half_done = [
            i
            for i in endpoint.instances
            if i.state.is_live()
            and (i.config_name != endpoint.config_name or i.state is not InstanceState.SERVING)
        ]
        self._stop_instances(half_done, drain=False)
        if self.scheduler is not None:  # the capacity an interrupted update reserved for its config
            kept = f"endpoint/{name}/{endpoint.config_name}/"
            for reservation in self.scheduler.live():
                if reservation.owner.startswith(f"endpoint/{name}/") and not reservation.owner.startswith(
                    kept
                ):
                    self.scheduler.release(reservation.owner)
        if endpoint.status is EndpointStatus.UPDATING:
            hosting.update_endpoint(
                self.db,
                name,
                utcnow(),
                status=EndpointStatus.IN_SERVICE,
                failure_reason="Update interrupted: the Kiln server restarted while it ran; the previous "
                "configuration kept serving. Update the endpoint again.",
            )
        self._publish(hosting.get_endpoint(self.db, name))
        self._resize(name)  # instances stopped here that the endpoint's counts still want

    def _resume_creation(self, endpoint: Endpoint, config: EndpointConfigRecord) -> None:
        """Stop the instances a killed server was starting (none ever served this endpoint), then
        create them again, as ``create_endpoint`` would have."""
        log.warning("resuming the creation of endpoint %s, interrupted by a server restart", endpoint.name)
        self._stop_instances(list(endpoint.instances), drain=False)
        self._bring_up(endpoint.name, config)

    def supervise_once(self) -> None:
        for endpoint in hosting.list_endpoints(self.db, limit=10_000):
            if endpoint.status not in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING):
                continue
            with self._lock:
                if endpoint.name in self._busy:
                    continue
            for instance in endpoint.instances:
                if instance.state is not InstanceState.SERVING:
                    continue
                if instance.handle is None or self.executor.poll(instance.handle) is None:
                    continue
                self._replace(endpoint, instance)

    def _replace(self, endpoint: Endpoint, instance: EndpointInstance) -> None:
        """An instance died: take it out of rotation now, start a replacement in the background."""
        hosting.update_instance(
            self.db,
            instance.instance_id,
            state=InstanceState.FAILED,
            failure_reason="the instance process exited",
        )
        self.router.forget_instance(instance.instance_id)
        # Whatever is left of it goes (on a cluster, the room its lost node's executor still held).
        self.fleet.stop([RunningProcess(instance.handle, instance.socket_path)])
        current = hosting.get_endpoint(self.db, endpoint.name)
        self._publish(current)
        key = f"{endpoint.name}/{instance.variant}"
        if time.monotonic() < self._restart_after.get(key, 0.0):
            return
        self._restart_after[key] = time.monotonic() + RESTART_BACKOFF_SECONDS
        self._in_background(endpoint.name, self._resize, endpoint.name)
