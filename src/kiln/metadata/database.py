"""The metadata database: engine, sessions, and migrations.

SQLite (the default) runs in WAL mode with a busy timeout, so the server's threads and readers never
see ``database is locked`` under normal load; PostgreSQL is used when ``KILN_DATABASE_URL`` names it.
Both behave alike to everything above (``kiln.testing.metadata`` checks it): a value longer than its
column is a ValidationError on both (SQLite would keep it, PostgreSQL would refuse it with its own
error), a taken unique value a Conflict, a failing database an InternalError. On PostgreSQL two
units of work can deadlock or fail to serialize (SQLite runs one writer at a time, so it never does):
``transaction`` runs a unit again when that happens; ``session`` reports it as a Conflict to retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kiln.errors import Conflict, InternalError, ValidationError

__all__ = ["Database"]

SQLITE_BUSY_TIMEOUT_MS = 30_000  # long enough to outlast any write burst; writes are short
# PostgreSQL's "could not serialize" and "deadlock detected": the unit lost a race and did nothing.
RETRIED_SQLSTATES = frozenset({"40001", "40P01"})
TRANSACTION_ATTEMPTS = 5
RETRY_DELAY_SECONDS = 0.02  # doubled per attempt, with jitter, so racing units do not collide again

T = TypeVar("T")


class _LostRace(Exception):
    """A unit of work that PostgreSQL rolled back for a concurrent one (``RETRIED_SQLSTATES``)."""

    def __init__(self, error: OperationalError) -> None:
        super().__init__(str(error.orig))
        self.error = error


def _lost_race(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in RETRIED_SQLSTATES


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
        try:
            with self._unit() as session:
                yield session
        except _LostRace as e:
            raise Conflict(
                f"the change raced a concurrent one and was undone ({e}); nothing was stored, try again"
            ) from e.error

    def transaction(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` as one unit of work, run again (up to TRANSACTION_ATTEMPTS times) when
        PostgreSQL undoes it for a concurrent unit: ``work`` must only touch the database."""
        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            try:
                with self._unit() as session:
                    return work(session)
            except _LostRace as e:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise Conflict(
                        f"the change raced concurrent ones {attempt} times and was undone each time "
                        f"({e}); nothing was stored, try again"
                    ) from e.error
                time.sleep(RETRY_DELAY_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    @contextmanager
    def _unit(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except OperationalError as e:
            session.rollback()
            if _lost_race(e):
                raise _LostRace(e) from e
            raise InternalError(f"the metadata database failed: {e.orig}") from e
        except IntegrityError as e:
            session.rollback()
            raise Conflict(f"the change conflicts with existing data: {e.orig}") from e
        except DataError as e:  # PostgreSQL: a value too long, out of range, or of the wrong form
            session.rollback()
            raise ValidationError(f"a value does not fit the metadata database: {e.orig}") from e
        except InterfaceError as e:  # unreachable, out of space, connection lost
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
