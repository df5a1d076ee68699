"""What a built-in algorithm sees of its training job: SageMaker's /opt/ml contract, read once.

The training host runtime runs an algorithm exactly as it runs a user's script (``python -m
kiln.algorithms.<name>`` with the SM_* environment); this module gives the algorithm its
hyperparameters (``input/config/hyperparameters.json``, raw strings), its channels and their
ContentType (``inputdataconfig.json``), the hosts, and the model folder; and it prints metrics in
SageMaker's log formats, which the algorithm's metric definitions read back.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiln.algorithms.hyperparameters import AlgorithmError

__all__ = ["AlgorithmJob", "run_algorithm"]


@dataclass
class AlgorithmJob:
    hyperparameters: dict[str, str]
    channels: dict[str, Path]  # channel name → its local folder
    content_types: dict[str, str]  # channel name → ContentType as given ("" when unset)
    model_dir: Path
    hosts: list[str]
    current_host: str
    failure_file: Path | None
    num_cpus: int = 1
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_environment(cls) -> AlgorithmJob:
        config_dir = Path(os.environ["SM_INPUT_CONFIG_DIR"])
        hyperparameters = json.loads((config_dir / "hyperparameters.json").read_text())
        data_config = json.loads((config_dir / "inputdataconfig.json").read_text())
        channels = {
            name[len("SM_CHANNEL_") :].lower(): Path(path)
            for name, path in os.environ.items()
            if name.startswith("SM_CHANNEL_")
        }
        failure = os.environ.get("SM_OUTPUT_FAILURE")
        return cls(
            hyperparameters={str(k): str(v) for k, v in hyperparameters.items()},
            channels=channels,
            content_types={name: str(c.get("ContentType", "")) for name, c in data_config.items()},
            model_dir=Path(os.environ["SM_MODEL_DIR"]),
            hosts=json.loads(os.environ.get("SM_HOSTS", '["algo-1"]')),
            current_host=os.environ.get("SM_CURRENT_HOST", "algo-1"),
            failure_file=Path(failure) if failure else None,
            num_cpus=int(os.environ.get("SM_NUM_CPUS", "1")),
        )

    @property
    def is_master(self) -> bool:
        return self.current_host == self.hosts[0]


def log(message: str) -> None:
    print(message, flush=True)


def quality_metric(host: str, channel: str, name: str, value: float, *, loss: bool) -> None:
    """The first-party algorithms' metric line: ``#quality_metric: host=algo-1, test msd <loss>=0.06``."""
    log(f"#quality_metric: host={host}, {channel} {name} <{'loss' if loss else 'score'}>={value!r}")


def run_algorithm(train: Callable[[AlgorithmJob], None]) -> None:
    """The process's boundary: an AlgorithmError becomes the job's FailureReason and exit status 1."""
    job = AlgorithmJob.from_environment()
    try:
        train(job)
    except AlgorithmError as e:
        _fail(job, str(e))
    except Exception as e:  # the algorithm's own fault: a readable reason, the trace in the log
        traceback.print_exc()
        _fail(job, f"AlgorithmError: {type(e).__name__}: {e}")


def _fail(job: AlgorithmJob, reason: str) -> Any:
    print(reason, file=sys.stderr, flush=True)
    if job.failure_file is not None:
        job.failure_file.parent.mkdir(parents=True, exist_ok=True)
        job.failure_file.write_text(reason)
    sys.exit(1)
