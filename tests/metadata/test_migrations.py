"""The Alembic migrations build exactly the schema the ORM describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from conftest import ON_EVERY_BACKEND
from kiln.metadata import Database
from kiln.metadata.tables import Base


def test_migrations_create_the_schema_the_tables_describe(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    db.migrate()
    db.migrate()  # a second run is a no-op, as at every server start
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
        assert "training_jobs" in inspect(connection).get_table_names()
    db.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 5000
    db.dispose()


@ON_EVERY_BACKEND
def test_pids_stored_before_0009_become_local_executor_handles_and_back(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from kiln.executors import LocalExecutor
    from kiln.metadata.database import MIGRATIONS_DIR

    url = database_url
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0003_hosting")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO training_jobs (id, name, status, secondary_status, spec, creation_time, "
                "last_modified_time, billable_seconds, attempt) VALUES (1, 'j', 'InProgress', 'Training', "
                "'{}', '2026-01-01', '2026-01-01', 0, 1)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO training_job_hosts (job_id, host, state, pid, pid_started_at, last_batch) "
                "VALUES (1, 'algo-1', 'Running', 4242, 1700000000.5, 0)"
            )
        )

    command.upgrade(config, "heads")
    with engine.connect() as connection:
        [handle] = connection.execute(text("SELECT handle FROM training_job_hosts")).scalars()
    # The old process is still watched by its pid: long gone here, so its status is lost.
    assert LocalExecutor().poll(handle) is not None
    assert LocalExecutor().read_result(handle) is None

    command.downgrade(config, "0003_hosting")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pid, pid_started_at FROM training_job_hosts")).one() == (
            4242,
            1700000000.5,
        )
    engine.dispose()
