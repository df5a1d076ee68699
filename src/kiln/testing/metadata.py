"""The metadata layer's contract, as tests every database backend must pass (SQLite, PostgreSQL).

Subclass ``MetadataConformance`` and give it a ``db`` fixture: a migrated, empty ``Database``.
``database_for(url)`` makes one and ``empty_database`` drops everything again after a test, so one
PostgreSQL database serves the whole run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update

from kiln.errors import Conflict, KilnError, NotFound, ValidationError
from kiln.metadata import Database, hosting, job_logs, training_jobs, tuning_jobs
from kiln.metadata.tables import Base, TrainingJobRow
from kiln.records import HostState, LogLine, MetricValue, SecondaryStatus, TrainingJobStatus, utcnow

__all__ = ["NAMED_RESOURCES", "MetadataConformance", "database_for", "empty_database"]


def database_for(url: str) -> Database:
    db = Database(url)
    db.migrate()
    return db


def empty_database(db: Database) -> None:
    """Drop every table (PostgreSQL keeps its database between tests; SQLite files are thrown away)."""
    if db.is_sqlite:
        db.dispose()
        return
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()


def _new_job(
    db: Database, name: str, spec: dict[str, Any] | None = None, hosts: tuple[str, ...] = ("algo-1",)
) -> Any:
    return training_jobs.insert_training_job(db, name, spec or {}, list(hosts), utcnow(), "Starting")


# Every resource known by name: (how to create one, how to get one).
NAMED_RESOURCES: dict[str, tuple[Callable[[Database, str], Any], Callable[[Database, str], Any]]] = {
    "training job": (lambda db, n: _new_job(db, n), training_jobs.get_training_job),
    "hyperparameter tuning job": (
        lambda db, n: tuning_jobs.insert_tuning_job(db, n, {}, 1, utcnow()),
        tuning_jobs.get_tuning_job,
    ),
    "model": (lambda db, n: hosting.insert_model(db, n, {}, utcnow()), hosting.get_model),
    "endpoint configuration": (
        lambda db, n: hosting.insert_endpoint_config(db, n, {}, utcnow()),
        hosting.get_endpoint_config,
    ),
    "endpoint": (
        lambda db, n: hosting.insert_endpoint(db, n, "config", {}, {}, utcnow()),
        hosting.get_endpoint,
    ),
}


class MetadataConformance:
    """What every metadata backend does. Fixture: ``db``, a migrated and empty ``Database``."""

    def test_the_migrations_build_the_schema_the_tables_describe_and_run_twice(self, db: Database) -> None:
        db.migrate()  # every server start runs them; the second run changes nothing
        with db.engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []

    @pytest.mark.parametrize("noun", sorted(NAMED_RESOURCES))
    def test_missing_and_taken_names_read_the_same_for_every_resource(self, db: Database, noun: str) -> None:
        create, get = NAMED_RESOURCES[noun]
        with pytest.raises(
            NotFound, match=rf"^Could not find {noun} 'absent'; .+ shows the ones that exist\.$"
        ):
            get(db, "absent")
        create(db, "taken")
        assert get(db, "taken").name == "taken"
        with pytest.raises(
            Conflict, match=rf"^{noun.capitalize()} 'taken' already exists; choose another \w+\.$"
        ):
            create(db, "taken")

    def test_a_value_longer_than_its_column_is_a_validation_error_and_stores_nothing(
        self, db: Database
    ) -> None:
        long_name = "x" * 70  # training job names are 63 characters at most

        with pytest.raises(ValidationError, match="70 characters long; at most 63"):
            _new_job(db, long_name)
        assert training_jobs.find_training_job(db, long_name) is None

    def test_a_name_taken_by_two_writers_at_once_admits_exactly_one(self, db: Database) -> None:
        outcomes: list[str] = []
        start = threading.Barrier(4)

        def insert() -> None:
            start.wait()
            try:
                _new_job(db, "raced")
                outcomes.append("stored")
            except KilnError as e:
                outcomes.append(type(e).__name__)

        threads = [threading.Thread(target=insert) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(outcomes) == ["Conflict", "Conflict", "Conflict", "stored"]

    def test_times_come_back_aware_and_in_utc_to_the_microsecond(self, db: Database) -> None:
        job = _new_job(db, "timed")
        stored = training_jobs.get_training_job(db, "timed")

        assert stored.creation_time == job.creation_time
        assert stored.creation_time.utcoffset() == timedelta(0)

    def test_a_request_comes_back_exactly_as_submitted(self, db: Database) -> None:
        spec = {
            "HyperParameters": {"lr": "0.1", "name": '"Zoë – ünïcode ✓"'},
            "ResourceConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large"},
            "Nested": [{"a": None, "b": [1.5, True]}],
        }
        _new_job(db, "echo", spec)

        assert training_jobs.get_training_job(db, "echo").spec == spec

    def test_lists_are_newest_first_and_filter_by_status_and_literal_name_parts(self, db: Database) -> None:
        for name in ("a-100", "a_1-1", "b-200"):
            _new_job(db, name)
        now = utcnow()
        training_jobs.record_transition(db, "b-200", SecondaryStatus.COMPLETED, "done", now)

        listed = [j.name for j in training_jobs.list_training_jobs(db)]
        assert listed == ["b-200", "a_1-1", "a-100"]
        completed = training_jobs.list_training_jobs(db, status=TrainingJobStatus.COMPLETED)
        assert [j.name for j in completed] == ["b-200"]
        # "_" and "%" are the name's own characters, not SQL wildcards.
        assert [j.name for j in training_jobs.list_training_jobs(db, name_contains="_1")] == ["a_1-1"]
        assert training_jobs.list_training_jobs(db, name_contains="%") == []

    def test_a_hosts_batches_are_stored_once_and_read_in_order(self, db: Database) -> None:
        _new_job(db, "logged")
        now = utcnow()
        lines = [LogLine(0, "algo-1", now, f"line {i}") for i in range(3)]
        metrics = [MetricValue("loss", 0.5, now)]

        assert job_logs.append_host_events(db, "logged", "algo-1", 1, lines, metrics, now) is True
        assert job_logs.append_host_events(db, "logged", "algo-1", 1, lines, metrics, now) is False

        stored = job_logs.list_log_lines(db, "logged")
        assert [line.message for line in stored] == ["line 0", "line 1", "line 2"]
        assert [m.value for m in job_logs.list_metric_values(db, "logged")] == [0.5]

    def test_a_batch_sent_by_four_writers_at_once_is_stored_once(self, db: Database) -> None:
        # A host re-sends a batch whose answer it lost while the first send is still being stored.
        _new_job(db, "resent")
        now = utcnow()
        lines = [LogLine(0, "algo-1", now, f"line {i}") for i in range(50)]
        start = threading.Barrier(4)
        stored: list[bool] = []

        def send() -> None:
            start.wait()
            stored.append(job_logs.append_host_events(db, "resent", "algo-1", 1, lines, [], now))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(stored) == [False, False, False, True]
        assert len(job_logs.list_log_lines(db, "resent", limit=1000)) == 50

    def test_a_hosts_executor_handle_is_kept_whole(self, db: Database) -> None:
        _new_job(db, "handled", hosts=("algo-1", "algo-2"))
        handle = "local:" + '{"pid":1234,"dir":"' + "/very/long/path" * 40 + '"}'

        training_jobs.update_host(db, "handled", "algo-1", state=HostState.RUNNING, handle=handle)

        job = training_jobs.get_training_job(db, "handled")
        assert [h.handle for h in job.hosts] == [handle, None]
        assert [j.name for j in training_jobs.list_jobs_with_live_hosts(db)] == ["handled"]

    def test_a_bulk_written_value_too_long_is_refused_or_kept_whole_never_cut(self, db: Database) -> None:
        # Lines and metrics are written in bulk, past the per-row length check: PostgreSQL refuses a
        # metric name over its 255 characters (a ValidationError, not a raw database error); SQLite
        # keeps it. Neither may store it cut short.
        _new_job(db, "bulk")
        now = utcnow()
        name = "m" * 300
        refusal: ValidationError | None = None
        try:
            job_logs.append_host_events(db, "bulk", "algo-1", 1, [], [MetricValue(name, 1.0, now)], now)
        except ValidationError as e:
            refusal = e
        stored = [m.name for m in job_logs.list_metric_values(db, "bulk")]
        if refusal is not None:
            assert "does not fit" in refusal.message
            assert stored == []
        else:
            assert stored == [name]

    def test_units_of_work_that_deadlock_are_run_again_and_both_are_stored(self, db: Database) -> None:
        # Two units update the same two rows in opposite orders. PostgreSQL detects the deadlock
        # (after its deadlock_timeout, 1 s by default) and undoes one; ``transaction`` runs it again.
        # SQLite makes the second writer wait for the first, so the meeting point times out instead.
        _new_job(db, "first")
        _new_job(db, "second")
        meet = threading.Barrier(2)
        runs: list[str] = []
        failures: list[BaseException] = []

        def add_one(order: tuple[str, str]) -> Callable[[Any], None]:
            def work(session: Any) -> None:
                runs.append(order[0])
                for i, name in enumerate(order):
                    session.execute(
                        update(TrainingJobRow)
                        .where(TrainingJobRow.name == name)
                        .values(billable_seconds=TrainingJobRow.billable_seconds + 1)
                    )
                    if i == 0:
                        try:
                            meet.wait(timeout=2)
                        except threading.BrokenBarrierError:
                            pass  # the other unit waits for this one (SQLite), or already ran

            return work

        def run(order: tuple[str, str]) -> None:
            try:
                db.transaction(add_one(order))
            except BaseException as e:
                failures.append(e)

        threads = [
            threading.Thread(target=run, args=(o,)) for o in (("first", "second"), ("second", "first"))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        with db.session() as session:
            counts = session.execute(select(TrainingJobRow.name, TrainingJobRow.billable_seconds)).all()
        assert sorted(counts) == [("first", 2), ("second", 2)]  # each unit counted once, none lost
        if not db.is_sqlite:
            assert len(runs) >= 3, runs  # one of the two ran again
