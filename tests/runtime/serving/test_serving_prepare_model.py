"""``--prepare-model``: an instance on another node fetches and unpacks its model there itself.

The instance reads the model (name, PrimaryContainer, artifact store) from a file, prepares its
folder under its node's KILN_HOME with the code the server uses on its own machine, and serves it.
"""

from __future__ import annotations

import json
from pathlib import Path

from serving_instances import FACTOR_HANDLERS, make_archive, start_instance, tar_with_member, write_module

from kiln.artifacts import resolve_store


def _model_file(tmp_path: Path, archive: Path, name: str) -> tuple[Path, dict[str, str]]:
    """The model's file for the instance, its archive uploaded to a store; (the file, the env)."""
    store = resolve_store(str(tmp_path / "store"))
    data_url = f"{store.root_url}/models/{archive.name}"
    store.put_file(archive, data_url)
    model = {"name": name, "container": {"ModelDataUrl": data_url}, "artifact_url": store.root_url}
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(model))
    return path, {"KILN_HOME": str(tmp_path / "node-home")}


def test_the_instance_prepares_its_model_from_the_store_and_serves_it(tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_module(source, FACTOR_HANDLERS)
    (source / "factor.txt").write_text("4")
    model_file, env = _model_file(tmp_path, make_archive(source, tmp_path / "model.tar.gz"), "quad")

    instance = start_instance(tmp_path, None, env=env, extra_args=["--prepare-model", str(model_file)])
    try:
        assert instance.port is not None, instance.stderr()
        with instance.client() as client:
            assert client.post("/invocations", json=[1, 2]).json() == [4, 8]
        assert (tmp_path / "node-home" / "models" / "quad" / "model" / "factor.txt").read_text() == "4"
    finally:
        instance.stop()


def test_an_unsafe_archive_fails_the_instance_with_the_servers_reason(tmp_path: Path) -> None:
    archive = tar_with_member(tmp_path / "model.tar.gz", "../escape.txt")
    model_file, env = _model_file(tmp_path, archive, "unsafe")

    instance = start_instance(tmp_path, None, env=env, extra_args=["--prepare-model", str(model_file)])

    assert instance.port is None
    assert instance.process.returncode == 3
    [failed] = [line for line in instance.stdout.splitlines() if line.startswith("KILN_SERVING_FAILED")]
    assert "ClientError: cannot unpack ModelDataUrl" in failed
    assert "../escape.txt" in failed
    assert not (tmp_path / "node-home" / "escape.txt").exists()
