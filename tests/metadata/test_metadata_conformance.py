"""The metadata contract on every database at hand: SQLite always, PostgreSQL when
``KILN_TEST_DATABASE_URL`` names one (CI starts one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kiln.metadata import Database
from kiln.testing import DATABASE_URL_VARIABLE, service_url
from kiln.testing.metadata import MetadataConformance, database_for, empty_database

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kiln.db'}"
    else:
        url = service_url(DATABASE_URL_VARIABLE) or ""
        if not url:
            pytest.skip(f"no PostgreSQL for this run: set {DATABASE_URL_VARIABLE} (CI does)")
    database = database_for(url)
    yield database
    empty_database(database)


class TestMetadata(MetadataConformance):
    pass
