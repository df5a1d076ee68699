"""One training host: ``python -m kiln.runtime.training HOST_SPEC.json``.

Lays out the host's /opt/ml tree, downloads channels and code, runs the user's entry point with
SageMaker's environment, streams its output, and uploads model.tar.gz / output.tar.gz. Every step is
inside a boundary that turns any failure into a Failed host with a readable reason.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from kiln.algorithms import Algorithm, algorithm_for_image, is_algorithm_mode
from kiln.artifacts import ArtifactStore, resolve_store
from kiln.artifacts.archives import ArchiveLimits
from kiln.config import load_allowed_roots, load_settings, result_file
from kiln.hardening import make_undumpable
from kiln.runtime.training.channels import download_channels
from kiln.runtime.training.entrypoint import NO_PRIVATE_VIEW, entrypoint_command, job_interpreter
from kiln.runtime.training.environment import (
    decode_hyperparameters,
    distributed_environment,
    hyperparameter_args,
    inherited_environment,
    training_environment,
)
from kiln.runtime.training.estimator_functions import ESTIMATOR_METRIC_LINE, defines_estimator_functions
from kiln.runtime.training.folder_sync import FolderSync, restore_folder
from kiln.runtime.training.frameworks import (
    FrameworkEnvironment,
    FrameworkUnavailable,
    requested_framework,
    resolve_framework,
)
from kiln.runtime.training.layout import OptMl
from kiln.runtime.training.library_check import check_torch_libraries
from kiln.runtime.training.opt_ml_view import OPT_ML, private_view_prefix, write_hosts_file
from kiln.runtime.training.outputs import failure_reason, upload_model_part, upload_outputs
from kiln.runtime.training.processing import run_processing
from kiln.runtime.training.reporter import Reporter
from kiln.runtime.training.resources import MemoryCap, confine_to_cpus, describe_grant, grant_environment
from kiln.runtime.training.spec import HostSpec
from kiln.runtime.training.tensorflow_mode import (
    distribution_mode,
    model_dir_argument,
    ps_environment,
    start_parameter_server,
    stop_parameter_server,
    tf_config,
    wait_for_master_exit,
)
from kiln.runtime.training.user_code import (
    UserCodeError,
    fetch_source,
    launch_command,
    python_for_requirements,
    torchrun_command,
)
from kiln.runtime.training.user_process import MetricScraper, run_user_process

OPT_ML_NOTE = (
    "Kiln: this host's /opt/ml is {root}; use the SM_* variables (SM_MODEL_DIR, SM_CHANNEL_<NAME>, …) "
    "for paths: a hard-coded /opt/ml path is not valid on this machine."
)


def _output_prefix(spec: HostSpec) -> str:
    output_path = spec.job["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    return f"{output_path}/{spec.job_name}/output"


def _local_path(path: str | None, layout: OptMl, default: Path) -> Path:
    """A path the script was told about (``/opt/ml/...`` means this host's tree)."""
    if not path:
        return default
    if path == str(OPT_ML) or path.startswith(f"{OPT_ML}/"):
        return layout.root / Path(path).relative_to(OPT_ML)
    return Path(path)


def start_folder_syncs(
    spec: HostSpec, layout: OptMl, store: ArtifactStore, reporter: Reporter
) -> list[FolderSync]:
    """Restore checkpoints, then keep checkpoints and TensorBoard event files flowing to the store."""
    syncs = []
    checkpoint = spec.job.get("CheckpointConfig")
    if checkpoint:
        folder = _local_path(checkpoint.get("LocalPath"), layout, layout.checkpoints_dir)
        restored = restore_folder(store, checkpoint["S3Uri"], folder)
        if restored:
            reporter.line(
                f"Kiln: restored {restored} checkpoint file(s) from {checkpoint['S3Uri']}", "stderr"
            )
        syncs.append(FolderSync(store, folder, checkpoint["S3Uri"]).start())
    tensorboard = spec.job.get("TensorBoardOutputConfig") or {}
    folder = _local_path(tensorboard.get("LocalPath"), layout, layout.tensorboard_dir)
    uri = tensorboard.get("S3OutputPath") or f"{_output_prefix(spec).rsplit('/', 1)[0]}/tensorboard"
    if not spec.is_master:
        uri = f"{uri.rstrip('/')}/{spec.host}"
    syncs.append(FolderSync(store, folder, uri).start())
    return syncs


def run_host(spec: HostSpec, reporter: Reporter, stop_event: threading.Event) -> dict[str, Any]:
    """Run the job on this host; returns the result reported to the control plane."""
    if spec.kind == "processing":
        return run_processing(spec, reporter, stop_event)
    layout = OptMl(Path(spec.base_dir))
    layout.create(spec)
    store = resolve_store(spec.artifact_url, load_allowed_roots(load_settings()))

    # A built-in algorithm (an algorithm image, no entry point) is Kiln's own training code: it runs
    # as a script would, on the server's libraries, whatever version the image's tag names.
    algorithm = algorithm_for_image(spec.job.get("AlgorithmSpecification", {}).get("TrainingImage"))
    own_command = entrypoint_command(spec.job)
    if algorithm is not None and (own_command is not None or not is_algorithm_mode(spec.job)):
        algorithm = None  # an XGBoost image with a script (or a command of its own): script mode
    # A framework version that cannot be had fails the job now, before any data moves.
    framework_request = requested_framework(spec.job) if algorithm is None else None
    framework_env = resolve_framework(framework_request) if framework_request else None
    reporter.status("Downloading", "Downloading input data")
    download_channels(
        store,
        spec.job.get("InputDataConfig") or [],
        layout.data_dir,
        spec.hosts.index(spec.host),
        len(spec.hosts),
    )
    user, framework = decode_hyperparameters(spec.hyperparameters)
    entry_point = str(framework.get("sagemaker_program") or "")
    if own_command is not None:
        return run_entrypoint_host(spec, layout, store, reporter, stop_event, own_command, framework_env)
    if algorithm is not None:
        return run_algorithm_host(spec, layout, store, reporter, stop_event, algorithm)
    if not entry_point:
        raise UserCodeError("ClientError: the job names no entry point (hyperparameter sagemaker_program)")
    submit_dir = framework.get("sagemaker_submit_directory")
    if submit_dir:
        fetch_source(store, str(submit_dir), layout.code_dir, ArchiveLimits.from_settings(load_settings()))
    notes: list[str] = []
    venvs = Path(spec.environment.get("KILN_VENVS_DIR", str(layout.root.parent.parent.parent / "venvs")))
    python = python_for_requirements(
        layout.code_dir, venvs, notes, framework_env.requirement if framework_env else None
    )
    notes.extend(
        check_torch_libraries(python)
    )  # a torchvision for another torch fails here, not in the script
    if framework_env is not None:
        notes.append(framework_env.note)
    # A torchvision for another torch fails here, not in the script.
    notes.extend(check_torch_libraries(python))
    is_tensorflow = framework_request is not None and framework_request.framework.name == "tensorflow"
    model_dir_uri = None
    if is_tensorflow and user.get("model_dir") not in (None, False, ""):
        user["model_dir"], model_dir_uri = model_dir_argument(
            user["model_dir"],
            spec,
            layout.root.parent / "model_dir",
            tuning="_tuning_objective_metric" in spec.hyperparameters,
        )
    command = launch_command(python, layout.code_dir, entry_point, hyperparameter_args(user))
    estimator_mode = defines_estimator_functions(layout.code_dir / entry_point)
    if estimator_mode:
        command = [python, "-m", "kiln.runtime.training.estimator_trainer", *command[1:]]
        notes.append(f"Kiln: {entry_point} defines Estimator functions; Kiln's trainer drives it")
    hosts_file = write_hosts_file(layout.root.parent / "hosts", spec.hosts, spec.host_addresses)
    view_prefix = private_view_prefix(layout.root, hosts_file)
    hosts_resolve = view_prefix is not None
    distributed = distributed_environment(spec, hosts_resolve=hosts_resolve)
    if framework.get("sagemaker_torch_distributed_enabled") in (True, "true", "True"):
        command = torchrun_command(
            python,
            command,
            nnodes=len(spec.hosts),
            node_rank=spec.hosts.index(spec.host),
            procs_per_host=max(1, spec.num_gpus),
            master=distributed["MASTER_ADDR"],
            port=spec.master_port,
        )
    private_view = [*view_prefix, *command] if view_prefix is not None else None
    if private_view is None:
        notes.append(OPT_ML_NOTE.format(root=layout.root))
    return _run_command(
        spec,
        layout,
        store,
        reporter,
        stop_event,
        command,
        private_view,
        notes,
        entry_point=entry_point,
        estimator_mode=estimator_mode,
        framework=framework,
        user=user,
        distributed=distributed,
        is_tensorflow=is_tensorflow,
        model_dir_uri=model_dir_uri,
        python=python,
        hosts_resolve=hosts_resolve,
        view_prefix=view_prefix,
    )


def run_entrypoint_host(
    spec: HostSpec,
    layout: OptMl,
    store: ArtifactStore,
    reporter: Reporter,
    stop_event: threading.Event,
    command: list[str],
    framework_env: FrameworkEnvironment | None,
) -> dict[str, Any]:
    """The job's ContainerEntrypoint + ContainerArguments, verbatim, in the private /opt/ml view,
    with the image's runtime (a job-own environment on the framework's) first on PATH."""
    hosts_file = write_hosts_file(layout.root.parent / "hosts", spec.hosts)
    view_prefix = private_view_prefix(layout.root, hosts_file)
    if view_prefix is None:
        raise UserCodeError(NO_PRIVATE_VIEW)
    notes: list[str] = []
    venvs = Path(spec.environment.get("KILN_VENVS_DIR", str(layout.root.parent.parent.parent / "venvs")))
    base = python_for_requirements(
        layout.code_dir, venvs, notes, framework_env.requirement if framework_env else None
    )
    if framework_env is not None:
        notes.append(framework_env.note)
    bin_dir = job_interpreter(layout.root.parent / "python", base)
    notes.append(f"Kiln: running the job's ContainerEntrypoint in its /opt/ml view: {' '.join(command)}")
    return _run_command(
        spec,
        layout,
        store,
        reporter,
        stop_event,
        command,
        [*view_prefix, *command],
        notes,
        entry_point="",
        estimator_mode=False,
        framework={},
        user={},
        distributed=distributed_environment(spec, hosts_resolve=True),
        is_tensorflow=False,
        model_dir_uri=None,
        python=str(bin_dir / "python"),
        hosts_resolve=True,
        view_prefix=view_prefix,
        path_first=bin_dir,
    )


def run_algorithm_host(
    spec: HostSpec,
    layout: OptMl,
    store: ArtifactStore,
    reporter: Reporter,
    stop_event: threading.Event,
    algorithm: Algorithm,
) -> dict[str, Any]:
    """A built-in algorithm: ``python -m kiln.algorithms.<name>`` as the job's script, nothing else
    changed (the same environment, logs, metrics, outputs and stop handling as a user's script)."""
    command = [sys.executable, "-m", algorithm.module]
    hosts_file = write_hosts_file(layout.root.parent / "hosts", spec.hosts, spec.host_addresses)
    view_prefix = private_view_prefix(layout.root, hosts_file)
    distributed = distributed_environment(spec, hosts_resolve=view_prefix is not None)
    private_view = [*view_prefix, *command] if view_prefix is not None else None
    notes = [f"Kiln: built-in algorithm {algorithm.title} ({algorithm.module})"]
    return _run_command(
        spec,
        layout,
        store,
        reporter,
        stop_event,
        command,
        private_view,
        notes,
        entry_point=algorithm.module,
        estimator_mode=False,
        framework={},
        user={},
        distributed=distributed,
        is_tensorflow=False,
        model_dir_uri=None,
        python=sys.executable,
        hosts_resolve=view_prefix is not None,
        view_prefix=view_prefix,
    )


def _run_command(
    spec: HostSpec,
    layout: OptMl,
    store: ArtifactStore,
    reporter: Reporter,
    stop_event: threading.Event,
    command: list[str],
    private_view: list[str] | None,
    notes: list[str],
    *,
    entry_point: str,
    estimator_mode: bool,
    framework: dict[str, Any],
    user: dict[str, Any],
    distributed: dict[str, str],
    is_tensorflow: bool,
    model_dir_uri: str | None,
    python: str,
    hosts_resolve: bool,
    view_prefix: list[str] | None,
    path_first: Path | None = None,
) -> dict[str, Any]:
    """Run the job's process (a user's script or a built-in algorithm) and report how it ended."""
    tf_mode = distribution_mode(framework, len(spec.hosts)) if is_tensorflow else None
    for note in notes:
        reporter.line(note, "stderr")
    if stop_event.is_set():
        return {"state": "Stopped", "secondary_status": "Stopped", "message": "Stopped before training began"}

    env = inherited_environment()
    env.update(grant_environment(spec))  # threads for the granted CPUs; the job's Environment may override
    env.update(spec.job.get("Environment") or {})
    # Inside a private view the script sees SageMaker's own paths; elsewhere, the host's real tree.
    env.update(training_environment(spec, OptMl(OPT_ML) if private_view else layout, entry_point))
    env.update(distributed)
    if tf_mode is not None:
        env["TF_CONFIG"] = json.dumps(tf_config(spec, tf_mode, hosts_resolve=hosts_resolve))
        reporter.line(f"Kiln: {tf_mode} training; TF_CONFIG={env['TF_CONFIG']}", "stderr")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(layout.code_dir), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"  # lines must reach followers as they are printed, not at exit
    if path_first is not None:  # the image's interpreter, as `python3` on the command line finds it
        env["PATH"] = os.pathsep.join(filter(None, [str(path_first), env.get("PATH")]))

    memory_cap = MemoryCap(spec.memory_bytes, f"{spec.job_name}-{spec.host}")
    if spec.gpus is not None:  # a scheduled type (not local mode): say what this host was granted
        reporter.line(describe_grant(spec, memory_cap), "stderr")
    syncs = start_folder_syncs(spec, layout, store, reporter)
    if model_dir_uri is not None:
        syncs.append(FolderSync(store, layout.root.parent / "model_dir", model_dir_uri).start())
    ps_server = None
    if tf_mode == "parameter_server":
        ps_server = start_parameter_server(
            view_prefix or [],
            python,
            ps_environment(env, spec, hosts_resolve=hosts_resolve),
            layout.root.parent / "parameter-server.log",
        )
    reporter.status("Training", "Training image download completed. Training in progress.")
    max_run = spec.job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    try:
        outcome = run_user_process(
            private_view or command,
            cwd=layout.code_dir,
            env=env,
            reporter=reporter,
            log_path=layout.root.parent / "output.log",
            scraper=MetricScraper(
                spec.job.get("AlgorithmSpecification", {}).get("MetricDefinitions") or [],
                ESTIMATOR_METRIC_LINE if estimator_mode else None,
            ),
            stop_event=stop_event,
            max_run_seconds=float(max_run) if max_run else None,
            grace_seconds=spec.stop_grace_seconds,
            preexec=memory_cap.enter if memory_cap.limit is not None else None,
        )
    finally:
        memory_cap.close()
        if ps_server is not None:
            if not spec.is_master:  # its parameters serve the master until the master is done
                wait_for_master_exit(spec, spec.stop_grace_seconds * 10)
            stop_parameter_server(ps_server)
    for sync in syncs:
        sync.stop()
        for error in sync.errors[-3:]:
            reporter.line(f"Kiln: could not upload {error}", "stderr")
    result: dict[str, Any] = {"exit_code": outcome.exit_code}
    if outcome.timed_out:
        result.update(
            state="Stopped",
            secondary_status="MaxRuntimeExceeded",
            message=f"Training job exceeded MaxRuntimeInSeconds ({max_run} s) and was stopped",
        )
    elif outcome.stopped:
        result.update(state="Stopped", secondary_status="Stopped", message="Training job stopped on request")
    elif outcome.exit_code == 0:
        result.update(state="Succeeded", secondary_status="Completed", message="Training job completed")
    else:
        reason = failure_reason(layout, outcome, command)
        result.update(
            state="Failed", secondary_status="Failed", message="Training job failed", failure_reason=reason
        )

    # Whatever the script saved in model/ is uploaded, also after a stop (SageMaker's contract).
    if spec.is_master and result["state"] != "Failed":
        reporter.status("Uploading", "Uploading generated training model")
        model_uri, output_uri = upload_outputs(layout, store, _output_prefix(spec))
        result["model_artifacts"] = model_uri
        result["output_artifacts"] = output_uri
    elif result["state"] != "Failed":
        upload_model_part(layout, store, _output_prefix(spec), spec.host)
    if result["state"] == "Succeeded":
        layout.success_file.touch()
    return result


def _take_credential(folder: Path) -> str | None:
    """The job-scoped credential the server left beside host.json (0600); read once and deleted, so
    the user's script, started later, finds no file."""
    path = folder / "credential"
    try:
        credential = path.read_text().strip()
    except FileNotFoundError:
        return None
    path.unlink(missing_ok=True)
    return credential or None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m kiln.runtime.training HOST_SPEC.json", file=sys.stderr)
        return 2
    spec_path = Path(argv[0])
    spec = HostSpec.load(spec_path)
    refused = confine_to_cpus(spec.cpus)  # before any thread starts, so every thread inherits it
    stop_event = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    signal.signal(signal.SIGINT, lambda *_: stop_event.set())
    make_undumpable()  # the user's script must not read this process's credential from /proc
    reporter = Reporter(
        spec.server_url,
        spec.job_name,
        spec.host,
        _take_credential(spec_path.parent),
        server_record=Path(spec.server_record) if spec.server_record else None,
    )
    for notice in [*spec.notices, *([refused] if refused else [])]:
        reporter.line(notice, "stderr")
    started = time.time()
    failed = "Processing job failed" if spec.kind == "processing" else "Training job failed"
    try:
        result = run_host(spec, reporter, stop_event)
    except (UserCodeError, FrameworkUnavailable) as e:
        result = {"state": "Failed", "secondary_status": "Failed", "message": failed}
        result["failure_reason"] = str(e)
        reporter.line(str(e), "stderr")
    except Exception as e:  # the boundary: any failure of this host becomes a readable reason
        detail = traceback.format_exc()
        for line in detail.splitlines():
            reporter.line(line, "stderr")
        result = {
            "state": "Failed",
            "secondary_status": "Failed",
            "message": failed,
            "failure_reason": f"InternalServerError: {type(e).__name__}: {e}",
        }
    result["attempt"] = spec.attempt
    result["seconds"] = time.time() - started
    # Left with the executor (its result file) so a restarted server can learn the outcome even if
    # this report is lost.
    kept = result_file()
    if kept is not None:
        kept.write_text(json.dumps(result))
    try:
        reporter.finish(result)
    finally:
        reporter.close()
    return 0 if result["state"] == "Succeeded" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
