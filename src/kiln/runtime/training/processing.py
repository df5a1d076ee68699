"""A processing job on a training host: SageMaker's Processing container contract.

The host is the training host (same process, reporter, private /opt/ml view, grants, stop and
timeout handling); what differs is the contract with the user's command:

- each ``ProcessingInputs[].S3Input`` is copied to its ``LocalPath`` (under /opt/ml/processing/)
  before the command starts: ``S3Prefix`` (every object under the prefix; one object lands at
  ``LocalPath/<basename>``) or ``ManifestFile``, ``FullyReplicated`` or ``ShardedByS3Key``;
- ``/opt/ml/config/processingjobconfig.json`` (the request echoed back) and ``resourceconfig.json``;
- ``AppSpecification.ContainerEntrypoint + ContainerArguments`` run verbatim with only the request's
  ``Environment`` (no SM_* variables, no toolkit);
- ``ProcessingOutputConfig.Outputs[].S3Output``: ``Continuous`` outputs are uploaded while the
  command runs, ``EndOfJob`` ones when it ends (symbolic links are not followed);
- ``/opt/ml/output/message`` becomes the job's ExitMessage (its first 1 KB).
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import threading
from pathlib import Path
from typing import Any

from kiln.artifacts import ArtifactStore, resolve_store
from kiln.config import load_allowed_roots, load_settings
from kiln.errors import NotFound, ValidationError
from kiln.records import processing_job_arn
from kiln.runtime.training.environment import inherited_environment
from kiln.runtime.training.folder_sync import FolderSync
from kiln.runtime.training.layout import OptMl
from kiln.runtime.training.opt_ml_view import OPT_ML, private_view_prefix, write_hosts_file
from kiln.runtime.training.outputs import failure_reason
from kiln.runtime.training.reporter import Reporter
from kiln.runtime.training.resources import MemoryCap, describe_grant, grant_environment
from kiln.runtime.training.spec import HostSpec
from kiln.runtime.training.user_code import UserCodeError
from kiln.runtime.training.user_process import MetricScraper, run_user_process

__all__ = ["download_processing_input", "processing_job_config", "run_processing"]

EXIT_MESSAGE_BYTES = 1024  # SageMaker keeps the first 1 KB of /opt/ml/output/message
NO_PRIVATE_VIEW_NOTE = (
    "Kiln: this OS gives the job no private /opt/ml; /opt/ml/... in the command line was rewritten to "
    "this host's tree {root}, but paths hard-coded inside the script are not valid on this machine."
)


def host_path(root: Path, local_path: str) -> Path:
    """Where a container path (``/opt/ml/processing/...``) is in this host's tree."""
    return root / Path(local_path).relative_to(OPT_ML)


def processing_job_config(spec: HostSpec) -> dict[str, Any]:
    """``/opt/ml/config/processingjobconfig.json``: the request echoed back as SageMaker writes it."""
    request = spec.job
    app = request.get("AppSpecification") or {}
    inputs = []
    for item in request.get("ProcessingInputs") or []:
        entry = dict(item)
        if "S3Input" in item:
            s3 = item["S3Input"]
            entry["S3Input"] = {
                "LocalPath": s3.get("LocalPath"),
                "S3Uri": s3.get("S3Uri"),
                "S3DataDistributionType": s3.get("S3DataDistributionType", "FullyReplicated"),
                "S3DataType": s3.get("S3DataType"),
                "S3InputMode": s3.get("S3InputMode", "File"),
                "S3CompressionType": s3.get("S3CompressionType", "None"),
                "S3DownloadMode": "StartOfJob",
            }
        inputs.append(entry)
    output_config = request.get("ProcessingOutputConfig")
    stopping = request.get("StoppingCondition") or {"MaxRuntimeInSeconds": 86400}
    return {
        "ProcessingJobArn": processing_job_arn(spec.job_name),
        "ProcessingJobName": spec.job_name,
        "AppSpecification": {
            "ImageUri": app.get("ImageUri"),
            "ContainerEntrypoint": app.get("ContainerEntrypoint"),
            "ContainerArguments": app.get("ContainerArguments"),
        },
        "Environment": dict(request.get("Environment") or {}),
        "NetworkConfig": request.get("NetworkConfig"),
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": (
            {"Outputs": output_config.get("Outputs", []), "KmsKeyId": output_config.get("KmsKeyId")}
            if output_config
            else None
        ),
        "ProcessingResources": {
            "ClusterConfig": {
                "VolumeKmsKeyId": None,
                **request["ProcessingResources"]["ClusterConfig"],
            }
        },
        "RoleArn": request.get("RoleArn"),
        "StoppingCondition": stopping,
    }


def resource_config(spec: HostSpec) -> dict[str, Any]:
    cluster = spec.job["ProcessingResources"]["ClusterConfig"]
    return {
        "current_host": spec.host,
        "hosts": spec.hosts,
        "network_interface_name": "lo",
        "current_instance_type": cluster.get("InstanceType", "local"),
    }


def _manifest_entries(store: ArtifactStore, manifest_uri: str) -> list[tuple[str, str]]:
    """(object URI, relative key) of a manifest: ``[{"prefix": "s3://b/p/"}, "key1", "key2", …]``."""
    with store.open(manifest_uri) as stream:
        try:
            manifest = json.loads(stream.read())
            prefix = str(manifest[0]["prefix"])
            keys = [str(key) for key in manifest[1:]]
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise UserCodeError(
                f"ClientError: manifest {manifest_uri} is not a SageMaker manifest "
                f'([{{"prefix": "s3://bucket/prefix/"}}, "relative/key", ...]): {e}'
            ) from e
    return [(f"{prefix.rstrip('/')}/{key}", key) for key in keys]


def download_processing_input(
    store: ArtifactStore, item: dict[str, Any], root: Path, host_index: int, host_count: int
) -> int:
    """Copy one S3Input to its LocalPath; returns the number of files this host received."""
    name = item["InputName"]
    s3 = item["S3Input"]
    uri = str(s3["S3Uri"]).rstrip("/")
    target = host_path(root, s3["LocalPath"])
    target.mkdir(parents=True, exist_ok=True)
    try:
        if s3.get("S3DataType") == "ManifestFile":
            entries = _manifest_entries(store, uri)
        else:
            listed = [e.uri for e in store.list_objects(uri, recursive=True) if not e.is_dir]
            entries = [
                (found, posixpath.basename(uri) if found.rstrip("/") == uri else found[len(uri) + 1 :])
                for found in listed
            ]
    except (NotFound, ValidationError) as e:
        raise UserCodeError(f"ClientError: input {name!r}: cannot read {uri}: {e}") from e
    if s3.get("S3DataDistributionType") == "ShardedByS3Key" and host_count > 1:
        entries = sorted(entries)[host_index::host_count]
    for found, relative in entries:
        try:
            store.resolve_uri(found, field=f"input {name!r}: entry")
            store.get_file(found, target / relative)
        except (NotFound, ValidationError) as e:
            raise UserCodeError(f"ClientError: input {name!r}: cannot read entry {relative!r}: {e}") from e
    return len(entries)


def upload_output(store: ArtifactStore, folder: Path, uri: str) -> int:
    """Upload every regular file under ``folder`` (symbolic links are not followed, as SageMaker)."""
    count = 0
    if not folder.is_dir():
        return 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        store.put_file(path, f"{uri.rstrip('/')}/{path.relative_to(folder).as_posix()}")
        count += 1
    return count


def _exit_message(root: Path) -> str | None:
    path = root / "output" / "message"
    if not path.is_file():
        return None
    data = path.read_bytes()[:EXIT_MESSAGE_BYTES]
    return data.decode("utf-8", errors="replace").strip() or None


def _command(spec: HostSpec, root: Path, private: bool) -> list[str]:
    app = spec.job["AppSpecification"]
    command = [*app.get("ContainerEntrypoint", []), *(app.get("ContainerArguments") or [])]
    if private:
        return command
    # No private view: the container paths on the command line point into this host's tree instead.
    prefix = f"{OPT_ML}/"
    return [str(host_path(root, arg)) if arg.startswith(prefix) else arg for arg in command]


def _environment(spec: HostSpec) -> dict[str, str]:
    env = inherited_environment()
    env.update(grant_environment(spec))
    env.update(spec.job.get("Environment") or {})
    # ``python3`` in an entrypoint means the Python Kiln runs in (the image's interpreter).
    env["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), env.get("PATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_processing(spec: HostSpec, reporter: Reporter, stop_event: threading.Event) -> dict[str, Any]:
    """Run the processing job's command on this host; returns the result reported to the server."""
    root = Path(spec.base_dir)
    layout = OptMl(root)
    for folder in (root / "config", root / "processing", root / "output"):
        folder.mkdir(parents=True, exist_ok=True)
    (root / "config" / "processingjobconfig.json").write_text(
        json.dumps(processing_job_config(spec), indent=1)
    )
    (root / "config" / "resourceconfig.json").write_text(json.dumps(resource_config(spec), indent=1))
    store = resolve_store(spec.artifact_url, load_allowed_roots(load_settings()))

    reporter.status("Downloading", "Downloading input data")
    host_index = spec.hosts.index(spec.host)
    for item in spec.job.get("ProcessingInputs") or []:
        count = download_processing_input(store, item, root, host_index, len(spec.hosts))
        reporter.line(
            f"Kiln: input {item['InputName']!r}: {count} file(s) in {item['S3Input']['LocalPath']}", "stderr"
        )
    outputs = [
        o for o in (spec.job.get("ProcessingOutputConfig") or {}).get("Outputs", []) if "S3Output" in o
    ]
    for output in outputs:
        host_path(root, output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)

    hosts_file = write_hosts_file(root.parent / "hosts", spec.hosts, spec.host_addresses)
    view = private_view_prefix(root, hosts_file, probe="processing")
    command = _command(spec, root, view is not None)
    if view is None:
        reporter.line(NO_PRIVATE_VIEW_NOTE.format(root=root), "stderr")
    if stop_event.is_set():
        return {
            "state": "Stopped",
            "secondary_status": "Stopped",
            "message": "Stopped before processing began",
        }

    syncs = [
        FolderSync(store, host_path(root, o["S3Output"]["LocalPath"]), o["S3Output"]["S3Uri"]).start()
        for o in outputs
        if o["S3Output"].get("S3UploadMode") == "Continuous"
    ]
    memory_cap = MemoryCap(spec.memory_bytes, f"{spec.job_name}-{spec.host}")
    if spec.gpus is not None:
        reporter.line(describe_grant(spec, memory_cap), "stderr")
    reporter.status("Training", "Processing job in progress")
    max_run = (spec.job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    try:
        outcome = run_user_process(
            [*(view or []), *command],
            cwd=root,
            env=_environment(spec),
            reporter=reporter,
            log_path=root.parent / "output.log",
            scraper=MetricScraper([]),
            stop_event=stop_event,
            max_run_seconds=float(max_run) if max_run else None,
            grace_seconds=spec.stop_grace_seconds,
            preexec=memory_cap.enter if memory_cap.limit is not None else None,
        )
    finally:
        memory_cap.close()
        for sync in syncs:
            sync.stop()
            for error in sync.errors[-3:]:
                reporter.line(f"Kiln: could not upload {error}", "stderr")

    result: dict[str, Any] = {"exit_code": outcome.exit_code}
    if outcome.timed_out:
        result.update(
            state="Stopped",
            secondary_status="MaxRuntimeExceeded",
            message=f"Processing job exceeded MaxRuntimeInSeconds ({max_run} s) and was stopped",
        )
    elif outcome.stopped:
        result.update(
            state="Stopped", secondary_status="Stopped", message="Processing job stopped on request"
        )
    elif outcome.exit_code == 0:
        result.update(state="Succeeded", secondary_status="Completed", message="Processing job completed")
    else:
        result.update(
            state="Failed",
            secondary_status="Failed",
            message="Processing job failed",
            failure_reason=failure_reason(layout, outcome, command),
        )
    if result["state"] != "Failed":
        reporter.status("Uploading", "Uploading processing outputs")
        for output in outputs:
            s3 = output["S3Output"]
            if s3.get("S3UploadMode") != "Continuous":
                upload_output(store, host_path(root, s3["LocalPath"]), s3["S3Uri"])
    message = _exit_message(root)
    if message:
        result["exit_message"] = message
    return result
