"""Times come back in UTC whatever the database's own time zone: PostgreSQL answers a timestamptz in
its session's TimeZone (an operator's server may run in Asia/Kolkata), SQLite keeps no zone at all."""

from __future__ import annotations

from datetime import timedelta, timezone

from conftest import ON_EVERY_BACKEND
from kiln.metadata import Database, training_jobs
from kiln.records import utcnow

pytestmark = ON_EVERY_BACKEND


def test_times_come_back_in_utc_when_the_database_answers_in_another_zone(database_url: str) -> None:
    if database_url.startswith("postgresql"):
        database_url += "?options=-c%20TimeZone%3DAsia/Kolkata"  # UTC+05:30 for this client's sessions
    db = Database(database_url)
    db.migrate()
    created = utcnow()
    training_jobs.insert_training_job(db, "zoned", {}, ["algo-1"], created, "Starting")

    job = training_jobs.get_training_job(db, "zoned")

    assert job.creation_time == created
    assert job.creation_time.utcoffset() == timedelta(0)
    assert job.creation_time.tzinfo == timezone.utc
    assert job.creation_time.isoformat() == created.isoformat()  # what the API and the console show
    db.dispose()
