"""SageMaker's TensorFlow script mode: ``--model_dir`` and ``TF_CONFIG``, as its training toolkit sets them.

``model_dir``. SageMaker's TensorFlow estimator passes ``--model_dir s3://<output>/<job>/model``, a
place for checkpoints and exports that TensorFlow writes to S3 directly; the SavedModel to serve goes
to ``SM_MODEL_DIR``. Kiln keeps the argument and its meaning: a ``model_dir`` given as a store URI is
handed to the script as a local folder beside the host's tree, which is uploaded to that URI while
the job runs and at its end (non-master hosts under ``<uri>/<host>``), so a script that writes there
works unchanged and the files end up where SageMaker would have put them. A local path (``/opt/ml/…``)
is passed as it is. During tuning the job's name is appended, as the toolkit does.

``TF_CONFIG``. ``distribution={"multi_worker_mirrored_strategy": {"enabled": True}}`` makes every host a
``worker`` (task index = host rank); ``{"parameter_server": {"enabled": True}}`` makes the first host
the ``master``, the others ``worker``, and every host also a ``ps`` task, whose server runs beside the
script. The toolkit gives every host the same ports (8890; 2222 and 2223), one per machine; Kiln's
hosts of one job share a machine, so each host gets its own ports, counted from the job's rendezvous
port: ``base + 1 + rank`` for workers/master, ``base + 1 + hosts + rank`` for parameter servers.
Host names are used where they resolve (each host's private view maps them to loopback), else
127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from kiln.runtime.training.spec import HostSpec

__all__ = [
    "PS_SERVER_SCRIPT",
    "distribution_mode",
    "model_dir_argument",
    "ps_environment",
    "start_parameter_server",
    "stop_parameter_server",
    "tf_config",
    "wait_for_master_exit",
]

MWMS_FLAG = "sagemaker_multi_worker_mirrored_strategy_enabled"
PS_FLAG = "sagemaker_parameter_server_enabled"
MASTER_POLL_SECONDS = 2.0  # the toolkit polls every 10 s; a local port answers sooner

# The parameter-server task, as the toolkit's _run_ps starts it (CPU only: several TensorFlow
# processes on one GPU are not safe). Runs under the job's Python until the script ends.
PS_SERVER_SCRIPT = """
import json, os
import tensorflow as tf
config = json.loads(os.environ["TF_CONFIG"])
server = tf.distribute.Server(
    tf.train.ClusterSpec(config["cluster"]), job_name="ps", task_index=config["task"]["index"],
    config=tf.compat.v1.ConfigProto(device_count={"GPU": 0}),
)
server.join()
"""


def _enabled(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def distribution_mode(framework_params: dict[str, Any], host_count: int) -> str | None:
    """``"parameter_server"``, ``"multi_worker_mirrored_strategy"`` or None, as the toolkit decides
    (parameter servers only with more than one host)."""
    if _enabled(framework_params.get(PS_FLAG)) and host_count > 1:
        return "parameter_server"
    if _enabled(framework_params.get(MWMS_FLAG)):
        return "multi_worker_mirrored_strategy"
    return None


def _address(spec: HostSpec, host: str, port: int, hosts_resolve: bool) -> str:
    return f"{host if hosts_resolve else '127.0.0.1'}:{port}"


def tf_config(spec: HostSpec, mode: str, *, hosts_resolve: bool, ps_task: bool = False) -> dict[str, Any]:
    """``TF_CONFIG`` for this host (or for its parameter-server task with ``ps_task``)."""
    hosts = spec.hosts
    rank = hosts.index(spec.host)
    worker_port = {h: spec.master_port + 1 + i for i, h in enumerate(hosts)}
    ps_port = {h: spec.master_port + 1 + len(hosts) + i for i, h in enumerate(hosts)}

    def addresses(names: list[str], ports: dict[str, int]) -> list[str]:
        return [_address(spec, h, ports[h], hosts_resolve) for h in names]

    if mode == "multi_worker_mirrored_strategy":
        return {
            "cluster": {"worker": addresses(hosts, worker_port)},
            "environment": "cloud",
            "task": {"index": rank, "type": "worker"},
        }
    cluster: dict[str, list[str]] = {"master": addresses(hosts[:1], worker_port)}
    if len(hosts) > 1:
        cluster["ps"] = addresses(hosts, ps_port)
        cluster["worker"] = addresses(hosts[1:], worker_port)
    if ps_task:
        task = {"index": rank, "type": "ps"}
    elif rank == 0:
        task = {"index": 0, "type": "master"}
    else:
        task = {"index": rank - 1, "type": "worker"}
    return {"cluster": cluster, "environment": "cloud", "task": task}


def model_dir_argument(
    value: Any, spec: HostSpec, local_folder: Path, *, tuning: bool
) -> tuple[str, str | None]:
    """``(what --model_dir says to the script, the store URI its folder uploads to or None)``."""
    text = str(value)
    if tuning and not text.startswith("/opt/ml"):
        text = f"{text.rstrip('/')}/{spec.job_name}/model"
    if "://" not in text:
        return text, None
    local_folder.mkdir(parents=True, exist_ok=True)
    uri = text if spec.is_master else f"{text.rstrip('/')}/{spec.host}"
    return str(local_folder), uri


def start_parameter_server(
    prefix: list[str], python: str, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """This host's ``ps`` task, running beside the script (under ``prefix``, the host's private view,
    so that host names resolve as for the script); its output goes to ``log_path``."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [*prefix, python, "-c", PS_SERVER_SCRIPT],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_master_exit(spec: HostSpec, timeout_seconds: float) -> None:
    """A worker's parameter server must serve until the master is done (the toolkit polls the
    master's port the same way): wait while the master's task port still accepts connections."""
    port = spec.master_port + 1
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                pass
        except OSError:
            return
        time.sleep(MASTER_POLL_SECONDS)


def stop_parameter_server(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def ps_environment(env: dict[str, str], spec: HostSpec, *, hosts_resolve: bool) -> dict[str, str]:
    ps_env = dict(env)
    config = tf_config(spec, "parameter_server", hosts_resolve=hosts_resolve, ps_task=True)
    ps_env["TF_CONFIG"] = json.dumps(config)
    ps_env["CUDA_VISIBLE_DEVICES"] = ""
    return ps_env
