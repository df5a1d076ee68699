"""Every resource known by name refuses a duplicate and a missing name with the same sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kiln.errors import Conflict, NotFound
from kiln.metadata import Database, hosting, training_jobs, tuning_jobs
from kiln.records import utcnow


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'kiln.db'}")
    database.migrate()
    yield database
    database.dispose()


CREATORS: dict[str, tuple[Callable[[Database, str], Any], Callable[[Database, str], Any]]] = {
    "training job": (
        lambda db, n: training_jobs.insert_training_job(db, n, {}, ["algo-1"], utcnow(), "Starting"),
        training_jobs.get_training_job,
    ),
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


@pytest.mark.parametrize("noun", sorted(CREATORS))
def test_missing_and_duplicate_names_read_the_same_for_every_resource(db: Database, noun: str) -> None:
    create, get = CREATORS[noun]
    with pytest.raises(NotFound, match=rf"^Could not find {noun} 'absent'; .+ shows the ones that exist\.$"):
        get(db, "absent")
    create(db, "taken")
    assert get(db, "taken").name == "taken"
    with pytest.raises(
        Conflict, match=rf"^{noun.capitalize()} 'taken' already exists; choose another \w+Name\.$"
    ):
        create(db, "taken")
