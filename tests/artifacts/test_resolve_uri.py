"""ArtifactStore.resolve_uri: the one confinement rule, and how s3:// URIs map onto a local store."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiln.artifacts import resolve_store
from kiln.config import Settings, load_allowed_roots, load_settings
from kiln.errors import ValidationError


@pytest.fixture
def roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    store_root, allowed, elsewhere = tmp_path / "artifacts", tmp_path / "shared", tmp_path / "elsewhere"
    for folder in (store_root, allowed, elsewhere):
        folder.mkdir()
    return store_root, allowed, elsewhere


def test_s3_uris_map_onto_the_local_stores_buckets(roots: tuple[Path, Path, Path]) -> None:
    store = resolve_store(str(roots[0]))
    assert store.resolve_uri("s3://kiln/DEMO/a.csv") == f"{roots[0].as_uri()}/kiln/DEMO/a.csv"
    assert store.resolve_uri("s3://other/x/") == f"{roots[0].as_uri()}/other/x"
    for bad in ("s3://.kiln-tmp-x/a", "s3:///key", "s3://kiln/../../etc"):
        with pytest.raises(ValidationError):
            store.resolve_uri(bad)


def test_file_uris_reach_only_the_store_and_the_allowed_roots(roots: tuple[Path, Path, Path]) -> None:
    store_root, allowed, elsewhere = roots
    store = resolve_store(str(store_root), allowed_roots=(allowed,))
    (allowed / "data.csv").write_text("1\n")

    assert store.resolve_uri((allowed / "data.csv").as_uri()) == (allowed / "data.csv").as_uri()
    assert store.resolve_uri(str(store_root / "kiln" / "x")) == (store_root / "kiln" / "x").as_uri()
    for outside in (elsewhere.as_uri(), "/etc/passwd", f"{store_root.as_uri()}-sibling/x", "relative/path"):
        with pytest.raises(ValidationError, match="outside this server's artifact store"):
            store.resolve_uri(outside, field="channel 'train': input URI")
    assert store.resolve_uri(elsewhere.as_uri(), anywhere=True) == elsewhere.as_uri()
    with pytest.raises(ValidationError, match=r"may not contain '\.\.'"):
        store.resolve_uri(f"{allowed.as_uri()}/../elsewhere", anywhere=True)


def test_a_symlink_out_of_an_allowed_place_is_refused(roots: tuple[Path, Path, Path]) -> None:
    store_root, _, elsewhere = roots
    (store_root / "kiln").mkdir()
    (store_root / "kiln" / "link").symlink_to(elsewhere)
    store = resolve_store(str(store_root))
    with pytest.raises(ValidationError, match="a symbolic link in the store leads out of it"):
        store.resolve_uri("s3://kiln/link/secret")
    with pytest.raises(ValidationError, match="outside this server's artifact store"):
        store.resolve_uri((store_root / "kiln" / "link" / "secret").as_uri())


def test_allowed_roots_come_from_the_config_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'allowed_roots = ["{tmp_path / "a"}"]\n')
    monkeypatch.setenv("KILN_ALLOWED_ROOTS", str(tmp_path / "b"))
    settings = Settings(home=tmp_path, config_path=config)
    assert load_allowed_roots(settings) == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    config.write_text('allowed_roots = ["/"]\n')
    with pytest.raises(ValidationError, match="absolute folder other than '/'"):
        load_allowed_roots(settings)


def test_the_token_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-a-file-0123456789\n")
    monkeypatch.delenv("KILN_API_TOKEN", raising=False)
    monkeypatch.setenv("KILN_API_TOKEN_FILE", str(token_file))
    assert load_settings().api_token == "from-a-file-0123456789"
    monkeypatch.setenv("KILN_API_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValidationError, match="KILN_API_TOKEN_FILE"):
        load_settings()
