"""The scheduler on its own: sizing, limits, the queue's order, grants, and a restart reloading its state.

A real SQLite database; the machine is a plain value (4 CPUs, 16 GiB, no GPU) so the figures do not
depend on where the tests run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from kiln.config import CapacitySettings
from kiln.errors import Conflict, InsufficientCapacity, ResourceLimitExceeded, ValidationError
from kiln.metadata import Database
from kiln.records import (
    CapacityUse,
    Reservation,
    ReservationState,
    SecondaryStatus,
    TrainingJob,
    TrainingJobStatus,
)
from kiln.scheduler import (
    CpuPool,
    Machine,
    Scheduler,
    resolve_catalog,
    resolve_limits,
    summarize_usage,
)
from kiln.services.capacity import CapacityService

GIB = 1024**3
MACHINE = Machine(cpus=(0, 1, 2, 3), memory_bytes=16 * GIB, gpus=())
TRAINING = CapacityUse.TRAINING


def _scheduler(db: Database, *, factor: float = 1.0, strict: bool = False, **settings: object) -> Scheduler:
    capacity = CapacitySettings(source="test.toml", oversubscription=factor, **settings)  # type: ignore[arg-type]
    catalog = resolve_catalog(capacity, cpus=4, memory_gib=16, gpus=0)
    return Scheduler(db, catalog, resolve_limits(capacity, catalog), CpuPool(MACHINE, factor), strict=strict)


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    database.migrate()
    return database


def test_grants_are_distinct_cpus_and_a_full_machine_queues(db: Database) -> None:
    scheduler = _scheduler(db)
    first = scheduler.reserve(TRAINING, "training-job/a", "ml.m5.large", 1)
    second = scheduler.reserve(TRAINING, "training-job/b", "ml.m5.large", 1)
    third = scheduler.reserve(TRAINING, "training-job/c", "ml.m5.large", 1)

    assert first.state is second.state is ReservationState.ACTIVE
    assert set(first.grants[0].cpus).isdisjoint(second.grants[0].cpus)
    assert len(first.grants[0].cpus) == 2
    assert first.grants[0].memory_bytes == 8 * GIB
    assert first.grants[0].gpus == ()
    assert third.state is ReservationState.PENDING
    assert third.message == "waiting for capacity: needs 2 CPUs, 0 free"


def test_the_queue_admits_by_priority_then_in_order_and_never_lets_small_jobs_pass_the_head(
    db: Database,
) -> None:
    scheduler = _scheduler(db, instance_types={"kiln.one": {"vcpus": 1}})
    admitted: list[str] = []
    scheduler.on_admitted(lambda r: admitted.append(r.owner))
    scheduler.reserve(TRAINING, "big-1", "ml.m5.xlarge", 1)  # the whole machine
    waiting = [
        scheduler.reserve(TRAINING, "one-a", "kiln.one", 1),
        scheduler.reserve(TRAINING, "big-2", "ml.m5.xlarge", 1),
        scheduler.reserve(TRAINING, "one-b", "kiln.one", 1),
        scheduler.reserve(TRAINING, "urgent", "kiln.one", 1, priority=5),
    ]
    assert [r.state for r in waiting] == [ReservationState.PENDING] * 4
    assert waiting[3].message == "waiting for capacity: needs 1 CPU, 0 free"
    assert waiting[2].message.endswith("; 2 ahead in the queue")

    scheduler.release("big-1")
    # urgent (priority 5) and one-a start; big-2 needs 4 and only 2 are left, so one-b waits behind it.
    assert admitted == ["urgent", "one-a"]
    scheduler.release("urgent")
    scheduler.release("one-a")
    assert admitted == ["urgent", "one-a", "big-2"]
    scheduler.release("big-2")
    assert admitted[-1] == "one-b"


def test_limits_refuse_in_sagemakers_words_and_count_waiting_instances(db: Database) -> None:
    scheduler = _scheduler(db, limits={"training": {"ml.m5.large": 2}, "endpoint": {"*": 0}})
    scheduler.reserve(TRAINING, "a", "ml.m5.large", 2)  # holds the machine
    with pytest.raises(ResourceLimitExceeded) as refused:
        scheduler.reserve(TRAINING, "b", "ml.m5.large", 1)
    assert str(refused.value).startswith(
        "The account-level service limit 'ml.m5.large for training job usage' is 2 Instances, with "
        "current utilization of 2 Instances and a request delta of 1 Instances."
    )
    scheduler.reserve(TRAINING, "c", "ml.m5.xlarge", 1)  # Pending, but counted
    assert scheduler.utilization(TRAINING, "ml.m5.xlarge") == 1
    with pytest.raises(
        ResourceLimitExceeded, match=r"'ml\.p2\.xlarge for training job usage' is 1 Instances"
    ):
        scheduler.reserve(TRAINING, "d", "ml.p2.xlarge", 2)
    with pytest.raises(ResourceLimitExceeded, match=r"'ml\.c5\.xlarge for endpoint usage' is 0 Instances"):
        scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/e", "ml.c5.xlarge", 1)
    scheduler.release("a")
    scheduler.reserve(TRAINING, "b", "ml.m5.large", 1)


def test_endpoints_take_free_capacity_now_or_are_told_there_is_none(db: Database) -> None:
    scheduler = _scheduler(db)
    scheduler.reserve(TRAINING, "training-job/a", "ml.m5.large", 1)
    endpoint = scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/e", "ml.m5.large", 1, queue=False)
    assert endpoint.state is ReservationState.ACTIVE
    with pytest.raises(InsufficientCapacity, match="needs 2 CPUs, 0 free"):
        scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/f", "ml.m5.large", 1, queue=False)
    with pytest.raises(Conflict, match="endpoint/e already holds"):
        scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/e", "ml.m5.large", 1)
    again = scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/e", "ml.m5.large", 1, existing_ok=True)
    assert again == endpoint


def test_larger_types_are_scaled_down_with_a_warning_or_refused_in_strict_mode(db: Database) -> None:
    relaxed = _scheduler(db)
    sizing = relaxed.size("ml.p3.2xlarge", 1)
    assert (sizing.cpus_per_instance, sizing.gpus_per_instance) == (4, 0)
    assert sizing.warnings == (
        "Kiln: ml.p3.2xlarge asks for 8 vCPUs; this machine has 4; running on 4 (scaled down)",
        "Kiln: ml.p3.2xlarge asks for 1 GPU; this machine has none; running on CPUs only (scaled down)",
        "Kiln: ml.p3.2xlarge asks for 61 GiB of memory; this machine has 16 GiB; capping each host at "
        "16 GiB (scaled down)",
    )
    three = relaxed.size("ml.m5.large", 3)  # 6 vCPUs in all on 4
    assert (three.slots, three.cpus_per_instance) == (3, 1)
    strict = _scheduler(db, strict=True)
    with pytest.raises(ValidationError) as refused:
        strict.size("ml.m5.xlarge", 2)
    assert "asks for 8 vCPUs in all; this machine has 4" in str(refused.value)
    assert "strict_instance_types is on" in str(refused.value)
    assert strict.size("ml.m5.large", 2).warnings == ()


def test_a_scaled_down_job_with_more_hosts_than_cpus_shares_them(db: Database) -> None:
    scheduler = _scheduler(db)
    reservation = scheduler.reserve(TRAINING, "many", "ml.m5.large", 6)
    assert reservation.state is ReservationState.ACTIVE
    assert [g.cpus for g in reservation.grants] == [(0,), (1,), (2,), (3,), (0,), (1,)]
    assert scheduler.snapshot().free_slots == 0
    scheduler.release("many")
    assert scheduler.snapshot().free_slots == 4


def test_oversubscription_promises_each_cpu_more_than_once(db: Database) -> None:
    scheduler = _scheduler(db, factor=2.0)
    grants = [scheduler.reserve(TRAINING, f"j{i}", "ml.m5.xlarge", 1) for i in range(3)]
    assert [g.state for g in grants] == [ReservationState.ACTIVE] * 2 + [ReservationState.PENDING]
    assert grants[0].grants[0].cpus == grants[1].grants[0].cpus == (0, 1, 2, 3)


def test_a_new_scheduler_reloads_what_was_held_and_what_was_waiting(db: Database) -> None:
    before = _scheduler(db)
    held = before.reserve(TRAINING, "held", "ml.m5.xlarge", 1)
    before.reserve(TRAINING, "waiting", "ml.m5.large", 1)

    after = _scheduler(db)
    assert after.find("held") == held
    assert after.snapshot().free_slots == 0
    assert after.queue_position("waiting") == 0
    after.release("held")
    found = after.find("waiting")
    assert found is not None
    assert found.state is ReservationState.ACTIVE


def test_config_mistakes_name_the_file_and_the_key(db: Database) -> None:
    with pytest.raises(ValidationError, match=r"test.toml: \[limits.trainig\] names no use"):
        _scheduler(db, limits={"trainig": {"ml.m5.large": 1}})
    with pytest.raises(ValidationError, match=r"limits.training.'ml.m9.large' names no known instance type"):
        _scheduler(db, limits={"training": {"ml.m9.large": 1}})


def test_usage_bills_jobs_by_billable_seconds_and_endpoints_by_time_held() -> None:
    now = datetime(2026, 11, 2, 12, tzinfo=timezone.utc)
    job = TrainingJob(
        name="j",
        status=TrainingJobStatus.COMPLETED,
        secondary_status=SecondaryStatus.COMPLETED,
        spec={"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2}},
        creation_time=now,
        last_modified_time=now,
        billable_seconds=3600,
        price_per_hour=0.115,
    )
    endpoint = Reservation(
        id=1,
        owner="endpoint/e",
        use=CapacityUse.ENDPOINT,
        instance_type="ml.m5.large",
        instance_count=2,
        priority=0,
        state=ReservationState.ACTIVE,
        slots=4,
        cpus_per_instance=2,
        gpus_per_instance=0,
        memory_bytes=None,
        price_per_hour=0.115,
        requested_at=now - timedelta(hours=3),
        started_at=now - timedelta(hours=3),
    )
    since = now - timedelta(hours=1)
    by_type = summarize_usage([job], [endpoint], by="type", since=since, now=now, price_of=lambda _: 0.0)
    assert [(u.key, u.instance_seconds, u.estimated_cost) for u in by_type] == [
        ("ml.m5.large", 3600 + 7200, pytest.approx(0.115 * 3))
    ]
    by_endpoint = summarize_usage([job], [endpoint], by="endpoint", since=since, now=now, price_of=float)
    assert [(u.key, u.kind, u.instance_seconds) for u in by_endpoint] == [("endpoint/e", "endpoint", 7200)]
    with pytest.raises(ValidationError, match="by='host' is not a grouping"):
        summarize_usage([], [], by="host", since=since, now=now, price_of=float)


def test_endpoint_reservations_accrue_cost_until_released(db: Database) -> None:
    scheduler = _scheduler(db)
    capacity = CapacityService(db, scheduler)
    held = scheduler.reserve(CapacityUse.ENDPOINT, "endpoint/shop", "ml.m5.large", 1, queue=False)
    assert held.grants[0].cpus == (0, 1)
    assert [(u.key, u.kind) for u in capacity.usage(since=None, by="endpoint")[1]] == [
        ("endpoint/shop", "endpoint")
    ]
    scheduler.release("endpoint/shop")
    _, lines = capacity.usage(since="2000-01-01", by="type")
    assert [line.key for line in lines] == ["ml.m5.large"]
    assert scheduler.snapshot().free_slots == 4
    limits = {limit.name: limit for limit in capacity.limits()}
    assert limits["ml.p2.xlarge for training job usage"].limit == 1
    assert limits["ml.m5.large for endpoint usage"].current == 0


def test_resizing_an_endpoint_reservation_checks_limits_and_room_and_frees_what_shrinks(db: Database) -> None:
    scheduler = _scheduler(db, limits={"endpoint": {"ml.m5.large": 3}})
    endpoint = CapacityUse.ENDPOINT
    first = scheduler.reserve(endpoint, "endpoint/e/c/v", "ml.m5.large", 1, queue=False)  # 2 of 4 CPUs

    with pytest.raises(
        ResourceLimitExceeded, match="current utilization of 1 Instances and a request delta of 3"
    ):
        scheduler.resize("endpoint/e/c/v", 4)
    scheduler.reserve(TRAINING, "training-job/a", "ml.m5.large", 1)  # the other 2 CPUs
    with pytest.raises(InsufficientCapacity, match="resize endpoint/e/c/v"):
        scheduler.resize("endpoint/e/c/v", 2)
    assert scheduler.find("endpoint/e/c/v") == first  # refused: unchanged, its CPUs still held
    assert scheduler.snapshot().free_slots == 0
    scheduler.release("training-job/a")

    grown = scheduler.resize("endpoint/e/c/v", 2)
    assert (grown.instance_count, grown.state, scheduler.snapshot().free_slots) == (
        2,
        ReservationState.ACTIVE,
        0,
    )
    assert scheduler.utilization(endpoint, "ml.m5.large") == 2
    waiting = scheduler.reserve(TRAINING, "training-job/w", "ml.m5.large", 1)
    assert waiting.state is ReservationState.PENDING

    shrunk = scheduler.resize("endpoint/e/c/v", 1)
    assert shrunk.instance_count == 1
    admitted = scheduler.find("training-job/w")
    assert admitted is not None
    assert admitted.state is ReservationState.ACTIVE  # the freed CPUs went to the waiting job
    # Cost: each size for the time it was held; the ended ones are kept.
    restarted = _scheduler(db, limits={"endpoint": {"ml.m5.large": 3}})
    assert restarted.find("endpoint/e/c/v") == shrunk
    assert restarted.utilization(endpoint, "ml.m5.large") == 1
