"""The Alembic migrations build exactly the schema the ORM describes."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

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
