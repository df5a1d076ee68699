"""SageMaker's /opt/ml tree, laid out under the host's own folder (docs/contracts.md §1.2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiln.runtime.training.spec import HostSpec

__all__ = ["OptMl"]


@dataclass(frozen=True)
class OptMl:
    """The paths of one host's /opt/ml stand-in."""

    root: Path

    @property
    def input_dir(self) -> Path:
        return self.root / "input"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.root / "output" / "data"

    @property
    def intermediate_dir(self) -> Path:
        return self.root / "output" / "intermediate"

    @property
    def tensorboard_dir(self) -> Path:
        return self.root / "output" / "tensorboard"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def success_file(self) -> Path:
        return self.output_dir / "success"

    def create(self, spec: HostSpec) -> None:
        """Make the folders and write the three config files the toolkit writes."""
        for folder in (
            self.config_dir,
            self.data_dir,
            self.code_dir,
            self.model_dir,
            self.output_data_dir,
            self.intermediate_dir,
            self.tensorboard_dir,
            self.checkpoints_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        _write_json(self.config_dir / "hyperparameters.json", spec.hyperparameters)
        _write_json(self.config_dir / "resourceconfig.json", resource_config(spec))
        _write_json(self.config_dir / "inputdataconfig.json", input_data_config(spec))


def resource_config(spec: HostSpec) -> dict[str, Any]:
    instance_type = spec.job.get("ResourceConfig", {}).get("InstanceType", "local")
    return {
        "current_host": spec.host,
        "hosts": spec.hosts,
        "network_interface_name": "lo",
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": spec.hosts}
        ],
    }


def input_data_config(spec: HostSpec) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for channel in spec.job.get("InputDataConfig") or []:
        source = channel.get("DataSource", {}).get("S3DataSource", {})
        entry: dict[str, Any] = {
            "TrainingInputMode": channel.get("InputMode", "File"),
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        }
        if channel.get("ContentType"):
            entry["ContentType"] = channel["ContentType"]
        config[channel["ChannelName"]] = entry
    return config


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True))
