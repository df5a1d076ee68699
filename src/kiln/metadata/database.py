"""The metadata database: engine, sessions, and migrations.

SQLite (the default) runs in WAL mode with a busy timeout, so the server's threads and readers never
see ``database is locked`` under normal load; PostgreSQL is used when ``KILN_DATABASE_URL`` names it.
Both behave alike to everything above (``kiln.testing.metadata`` checks it): a value longer than its
column is a ValidationError on both (SQLite would keep it, PostgreSQL would refuse it with its own
error), a taken unique value a Conflict, a failing database an InternalError.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kiln.errors import Conflict, InternalError, ValidationError

__all__ = ["Database"]

SQLITE_BUSY_TIMEOUT_MS = 30_000  # long enough to outlast any write burst; writes are short
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # NORMAL is durable in WAL mode against process crashes (only a power cut can lose the last commits).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _check_lengths(session: Session, _context: Any, _instances: Any) -> None:
    """Refuse a string longer than its ``String(n)`` column before it is written, on every backend."""
    for row in (*session.new, *session.dirty):
        mapper = inspect(row).mapper
        for attribute in mapper.column_attrs:
            length = getattr(attribute.columns[0].type, "length", None)
            value = getattr(row, attribute.key, None)
            if length is not None and isinstance(value, str) and len(value) > length:
                shown = value if len(value) <= 80 else value[:77] + "..."
                raise ValidationError(
                    f"{attribute.key} {shown!r} is {len(value)} characters long; at most {length} fit "
                    f"in {mapper.local_table.name}.{attribute.columns[0].name}: use a shorter value"
                )


class Database:
    """One engine and a session factory; ``session()`` is the only way in."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError) as e:
            raise InternalError(f"cannot open the metadata database {url!r}: {e}") from e
        if self.is_sqlite:
            event.listen(self.engine, "connect", _configure_sqlite)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_flush", _check_lengths)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except IntegrityError as e:
            session.rollback()
            raise Conflict(f"the change conflicts with existing data: {e.orig}") from e
        except DataError as e:  # PostgreSQL: a value too long, out of range, or of the wrong form
            session.rollback()
            raise ValidationError(f"a value does not fit the metadata database: {e.orig}") from e
        except (OperationalError, InterfaceError) as e:  # unreachable, out of space, connection lost
            session.rollback()
            raise InternalError(f"the metadata database failed: {e.orig}") from e
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def migrate(self) -> None:
        """Bring the schema to the newest migration (Alembic), creating it on first use."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")  # features add their own branches; all are applied

    def dispose(self) -> None:
        self.engine.dispose()
