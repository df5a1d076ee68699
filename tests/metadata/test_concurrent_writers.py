"""Concurrent writers: four processes each commit hundreds of read-modify-write units of work on one
database at once; on SQLite none sees "database is locked" (its busy handler retries for up to
SQLITE_BUSY_TIMEOUT_MS), on PostgreSQL none loses an update, and every row written is there once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import text

from conftest import ON_EVERY_BACKEND
from kiln.metadata import Database

WRITER = """
import sys
from sqlalchemy import text
from kiln.metadata import Database

db = Database(sys.argv[1])
writer = int(sys.argv[2])
for i in range(int(sys.argv[3])):
    with db.session() as s:
        n = s.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
        s.execute(text("INSERT INTO writes (writer, seq, seen) VALUES (:w, :i, :n)"), {"w": writer, "i": i, "n": n})
        s.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
print("done", flush=True)
"""
WRITERS = 4
UNITS = 150


@ON_EVERY_BACKEND
def test_concurrent_writer_processes_never_see_database_is_locked(tmp_path: Path, database_url: str) -> None:
    url = database_url
    db = Database(url)
    with db.session() as s:
        s.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        s.execute(
            text("CREATE TABLE writes (writer INTEGER, seq INTEGER, seen INTEGER, PRIMARY KEY (writer, seq))")
        )
        s.execute(text("INSERT INTO counter VALUES (1, 0)"))
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))

    writers = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(w), str(UNITS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    results = [w.communicate(timeout=120) for w in writers]

    for (out, err), writer in zip(results, writers, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert "database is locked" not in err
        assert out == "done\n"
    with db.session() as s:
        assert s.execute(text("SELECT n FROM counter")).scalar_one() == WRITERS * UNITS  # no update lost
        assert s.execute(text("SELECT count(*) FROM writes")).scalar_one() == WRITERS * UNITS
    db.dispose()
