"""The SageMaker training toolkit's view of a job: hyperparameters as arguments, and every SM_* variable.

Follows docs/contracts.md §1.3–1.4: values arrive JSON-encoded and are decoded where they parse;
``sagemaker_*`` keys are framework settings, not script arguments; the rest become sorted ``--key value``
arguments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kiln.codecs.hyperparameters import decode_hyperparameters as decode_each
from kiln.runtime.training.layout import OptMl, input_data_config, resource_config
from kiln.runtime.training.spec import HostSpec

__all__ = [
    "decode_hyperparameters",
    "distributed_environment",
    "hyperparameter_args",
    "training_environment",
]

RESERVED_PREFIX = "sagemaker_"
RESERVED_NAMES = frozenset({"_tuning_objective_metric", "default_user_module_name"})


def _is_reserved(key: str) -> bool:
    return key.startswith(RESERVED_PREFIX) or key in RESERVED_NAMES


def decode_hyperparameters(raw: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(user hyperparameters, framework ``sagemaker_*`` parameters), JSON-decoded."""
    decoded = decode_each(raw)
    user = {k: v for k, v in decoded.items() if not _is_reserved(k)}
    framework = {k: v for k, v in decoded.items() if _is_reserved(k)}
    return user, framework


def _arg_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)  # lists keep Python's str() form and True stays "True", as the toolkit does


def hyperparameter_args(user_hyperparameters: dict[str, Any]) -> list[str]:
    args: list[str] = []
    for key in sorted(user_hyperparameters):
        args += [f"-{key}" if len(key) == 1 else f"--{key}", _arg_value(user_hyperparameters[key])]
    return args


def _env_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def training_environment(spec: HostSpec, layout: OptMl, entry_point: str) -> dict[str, str]:
    """The SM_* variables (and their SM_TRAINING_ENV summary) for the user's process."""
    user, framework = decode_hyperparameters(spec.hyperparameters)
    channels = sorted(c["ChannelName"] for c in spec.job.get("InputDataConfig") or [])
    instance_type = spec.job.get("ResourceConfig", {}).get("InstanceType", "local")
    module_name = Path(entry_point).stem
    user_args = hyperparameter_args(user)
    channel_dirs = {c: str(layout.channel_dir(c)) for c in channels}
    values: dict[str, Any] = {
        "model_dir": str(layout.model_dir),
        "channels": channels,
        "hps": user,
        "hosts": spec.hosts,
        "current_host": spec.host,
        "current_instance_type": instance_type,
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": spec.hosts,
        "instance_groups": ["homogeneousCluster"],
        "instance_groups_dict": {
            "homogeneousCluster": {
                "instance_group_name": "homogeneousCluster",
                "instance_type": instance_type,
                "hosts": spec.hosts,
            }
        },
        "distribution_instance_groups": [],
        "is_hetero": False,
        "num_cpus": spec.num_cpus,
        "num_gpus": spec.num_gpus,
        "num_neurons": 0,
        "log_level": int(framework.get("sagemaker_container_log_level", 20)),
        "network_interface_name": "lo",
        "user_args": user_args,
        "user_entry_point": entry_point,
        "module_name": module_name,
        "module_dir": str(framework.get("sagemaker_submit_directory") or layout.code_dir),
        "framework_module": "",
        "framework_params": {k: v for k, v in framework.items() if k not in _TOOLKIT_KEYS},
        "input_dir": str(layout.input_dir),
        "input_config_dir": str(layout.config_dir),
        "output_dir": str(layout.output_dir),
        "output_data_dir": str(layout.output_data_dir),
        "output_intermediate_dir": str(layout.intermediate_dir),
        "resource_config": resource_config(spec),
        "input_data_config": input_data_config(spec),
    }
    env = {f"SM_{k.upper()}": _env_value(v) for k, v in values.items()}
    for channel, path in channel_dirs.items():
        env[f"SM_CHANNEL_{channel.upper()}"] = path
    for key, value in user.items():
        env[f"SM_HP_{key.upper()}"] = _env_value(value)
    training_env = {
        **{k: v for k, v in values.items()},
        "hyperparameters": user,
        "additional_framework_parameters": values["framework_params"],
        "channel_input_dirs": channel_dirs,
        "job_name": spec.job_name,
        "is_master": spec.is_master,
        "master_hostname": spec.hosts[0],
        "log_level": values["log_level"],
    }
    env["SM_TRAINING_ENV"] = json.dumps(training_env, sort_keys=True, separators=(",", ":"))
    env["TRAINING_JOB_NAME"] = spec.job_name
    env["SAGEMAKER_JOB_NAME"] = spec.job_name
    env["CURRENT_HOST"] = spec.host
    env["SAGEMAKER_BASE_DIR"] = str(layout.root)
    env["SM_OUTPUT_FAILURE"] = str(layout.failure_file)
    return env


_TOOLKIT_KEYS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "sagemaker_region",
    }
)


def distributed_environment(spec: HostSpec, *, hosts_resolve: bool) -> dict[str, str]:
    """torch.distributed's variables, as SageMaker's PyTorch toolkit sets them (docs/contracts.md §1.6).

    One process per host unless torchrun is used (it then sets RANK and WORLD_SIZE per worker).
    Host names resolve only inside the private view; elsewhere the master is reached at the executor's
    rendezvous address.
    """
    master = spec.hosts[0] if hosts_resolve else spec.master_addr
    rank = spec.hosts.index(spec.host)
    return {
        "MASTER_ADDR": master,
        "MASTER_PORT": str(spec.master_port),
        "WORLD_SIZE": str(len(spec.hosts)),
        "RANK": str(rank),
        "LOCAL_RANK": "0",
        "NODE_RANK": str(rank),
        "SM_MASTER_ADDR": master,
        "SM_MASTER_PORT": str(spec.master_port),
        "SM_HOST_COUNT": str(len(spec.hosts)),
        "SM_CURRENT_HOST_RANK": str(rank),
        "NCCL_IB_DISABLE": "1",
        "NCCL_DEBUG": "WARN",
        # All hosts of a local job share the loopback interface; on a cluster, the node's own.
        **({} if spec.host_addresses else {"GLOO_SOCKET_IFNAME": "lo", "NCCL_SOCKET_IFNAME": "lo"}),
    }


def inherited_environment() -> dict[str, str]:
    """The runtime's own environment, less Kiln's secrets: user code never sees the API token."""
    return {k: v for k, v in os.environ.items() if k not in ("KILN_API_TOKEN",)}
