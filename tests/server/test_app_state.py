"""``server.state.KilnState`` is the one list of what ``app.state`` holds: ``create_app`` sets exactly
those attributes, each of its declared type, so the typed accessors never read something absent."""

from __future__ import annotations

import typing
from pathlib import Path

from kiln.artifacts import resolve_store
from kiln.config import Settings
from kiln.executors import LocalExecutor
from kiln.metadata import Database
from kiln.server.app import create_app
from kiln.server.auth import AuthGuard
from kiln.server.state import KilnState, state_of


def test_create_app_sets_what_kiln_state_declares_with_its_types(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'kiln.db'}"
    settings = Settings(home=tmp_path, database_url=database_url, artifact_url=(tmp_path / "a").as_uri())
    db = Database(database_url)
    db.migrate()
    try:
        app = create_app(settings, db, resolve_store(settings.artifact_url), LocalExecutor())
        declared = typing.get_type_hints(KilnState, localns={"AuthGuard": AuthGuard})
        held = dict(app.state._state)  # starlette's State keeps its attributes in this dict
        assert set(held) == set(declared)
        state = state_of(app)
        for name, kind in declared.items():
            assert isinstance(getattr(state, name), kind), name
    finally:
        db.dispose()
