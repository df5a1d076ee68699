"""An operator type's ``node_resources`` in config.toml: read into the catalog, or refused naming the
type and the key."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kiln.config import Settings, load_capacity_settings
from kiln.errors import ValidationError
from kiln.scheduler import resolve_catalog


def _settings(home: Path, config: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(textwrap.dedent(config))
    return Settings(home=home)


def test_an_operator_type_carries_its_node_resources_and_other_types_none(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        """
        [instance_types."kiln.gpu-box"]
        vcpus = 4
        gpus = 1
        node_resources = { "kiln-gpu-box" = 1, "fast-disk" = 0.5 }

        [instance_types."kiln.plain"]
        vcpus = 1
        """,
    )
    catalog = resolve_catalog(load_capacity_settings(settings), cpus=8, memory_gib=16, gpus=1)

    assert catalog.get_type("kiln.gpu-box").node_resources == {"kiln-gpu-box": 1.0, "fast-disk": 0.5}
    assert catalog.get_type("kiln.gpu-box").gpus == 1
    assert catalog.get_type("kiln.plain").node_resources == {}
    assert catalog.get_type("ml.m5.large").node_resources == {}
    assert catalog.get_type("local").node_resources == {}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '{ "kiln-gpu-box" = "one" }',
            r"instance_types.'kiln.box'.node_resources.'kiln-gpu-box' must be a number > 0.*'one'",
        ),
        (
            '{ "kiln-gpu-box" = -1 }',
            r"instance_types.'kiln.box'.node_resources.'kiln-gpu-box' must be a number > 0.*-1",
        ),
        (
            '{ "kiln-gpu-box" = 0 }',
            r"instance_types.'kiln.box'.node_resources.'kiln-gpu-box' must be a number > 0",
        ),
        ('{ "kiln-gpu-box" = true }', r"'kiln-gpu-box' must be a number > 0.*True"),
        ('{ "CPU" = 2 }', r"node_resources.'CPU' is one of Ray's own resources; vcpus"),
        ('{ "" = 1 }', r"instance_types.'kiln.box'.node_resources has an empty resource name"),
        ('"kiln-gpu-box"', r"instance_types.'kiln.box'.node_resources must be a table"),
    ],
)
def test_bad_node_resources_name_the_file_the_type_and_the_key(
    tmp_path: Path, table: str, message: str
) -> None:
    settings = _settings(
        tmp_path,
        f"""
        [instance_types."kiln.box"]
        vcpus = 1
        node_resources = {table}
        """,
    )
    with pytest.raises(ValidationError, match=message) as refused:
        load_capacity_settings(settings)
    assert str(tmp_path / "config.toml") in str(refused.value)
