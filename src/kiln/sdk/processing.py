"""Processing jobs in SageMaker v2's SDK shape: ``Processor``, ``ScriptProcessor``, ``SKLearnProcessor``,
``FrameworkProcessor``, ``ProcessingInput`` / ``ProcessingOutput`` and ``ProcessingJob``.

The requests are the ones SageMaker's SDK sends (CreateProcessingJob with every S3Input enum and
``AppManaged: false``), and the SDK's conventions hold: unnamed inputs are ``input-1``…, unnamed
outputs ``output-1``…; a local input is uploaded to ``<bucket>/<job>/input/<name>``; an output with no
destination goes to ``<bucket>/<job>/output/<name>``; ScriptProcessor's ``code`` (a local file) is
uploaded to ``<bucket>/<job>/input/code/<file>`` as an input named ``code`` and run as ``command +
["/opt/ml/processing/input/code/<file>"]``; FrameworkProcessor packs ``source_dir`` into
``<bucket>/<job>/source/sourcedir.tar.gz`` and runs it through a generated ``runproc.sh``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiln.errors import ValidationError
from kiln.sdk.naming import name_from_base
from kiln.sdk.processing_job import ProcessingInput, ProcessingJob, ProcessingOutput
from kiln.sdk.session import Session
from kiln.sdk.source_code import is_uri, pack_source

__all__ = [
    "FrameworkProcessor",
    "ProcessingInput",
    "ProcessingJob",
    "ProcessingOutput",
    "Processor",
    "SKLearnProcessor",
    "ScriptProcessor",
]

PROCESSING_ROOT = "/opt/ml/processing"
CODE_DIR = f"{PROCESSING_ROOT}/input/code"
ENTRYPOINT_DIR = f"{PROCESSING_ROOT}/input/entrypoint"
REGION = "us-east-1"  # image URIs name a region; Kiln reads only the repository and the tag
# framework → (registry account, training repository), as ``sagemaker.image_uris.retrieve`` names them
FRAMEWORK_IMAGES = {
    "pytorch": ("763104351884", "pytorch-training"),
    "tensorflow": ("763104351884", "tensorflow-training"),
    "sklearn": ("683313688378", "sagemaker-scikit-learn"),
    "xgboost": ("683313688378", "sagemaker-xgboost"),
}
RUNPROC = """#!/bin/bash

cd {code_dir}/
tar -xzf sourcedir.tar.gz

# Exit on any error. SageMaker uses error code to mark failed job.
set -e

if [[ -f 'requirements.txt' ]]; then
    echo "Kiln: requirements.txt is not installed by processing jobs; the job runs in Kiln's environment"
fi

{command} {code} "$@"
"""


def _check_wait(wait: bool, logs: bool) -> None:
    if logs and not wait:
        raise ValidationError(
            "Logs can only be shown if wait is set to True. "
            "Please either set wait to True or set logs to False."
        )


def framework_image_uri(framework: str, version: str, py_version: str = "py3") -> str:
    """The SageMaker framework image a processing user would get from ``image_uris.retrieve``."""
    if framework not in FRAMEWORK_IMAGES:
        raise ValidationError(
            f"framework {framework!r} has no image Kiln knows; "
            f"use one of {', '.join(sorted(FRAMEWORK_IMAGES))}"
        )
    account, repository = FRAMEWORK_IMAGES[framework]
    return f"{account}.dkr.ecr.{REGION}.amazonaws.com/{repository}:{version}-cpu-{py_version}"


class Processor:
    """Runs a processing job with the given image and ``entrypoint`` (SageMaker's ``Processor``)."""

    def __init__(
        self,
        role: str | None = None,
        image_uri: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        entrypoint: list[str] | None = None,
        volume_size_in_gb: int = 30,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: Any = None,
    ) -> None:
        if not image_uri:
            raise ValidationError(
                "image_uri is required: a SageMaker framework image, e.g. the one "
                "sagemaker.image_uris.retrieve('sklearn', region, '1.2-1') returns"
            )
        self.role = role
        self.image_uri = image_uri
        self.instance_count = instance_count or 1
        self.instance_type = instance_type or "local"
        self.entrypoint = entrypoint
        self.volume_size_in_gb = volume_size_in_gb
        self.volume_kms_key = volume_kms_key
        self.output_kms_key = output_kms_key
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or Session()
        self.env = env
        self.tags = tags
        self.network_config = network_config
        self.jobs: list[ProcessingJob] = []
        self.latest_job: ProcessingJob | None = None
        self._current_job_name: str | None = None
        self.arguments: list[str] | None = None

    # -- SageMaker's run ------------------------------------------------------------------------------

    def run(
        self,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[Any] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
        kms_key: str | None = None,
    ) -> None:
        """Start the job (and, with ``wait``, wait for it, printing its logs with ``logs``)."""
        _check_wait(wait, logs)
        self._start(self.entrypoint, inputs, outputs, arguments, wait, logs, job_name, experiment_config)

    def _base_name(self) -> str:
        repository = self.image_uri.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        return self.base_job_name or repository

    def build_processing_request(
        self,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[Any] | None = None,
        code: str | None = None,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        job_name: str | None = None,
    ) -> dict[str, Any]:
        """The CreateProcessingJob request ``run`` would send, without sending it (code and local
        inputs are uploaded): what a pipeline's ProcessingStep carries."""
        name = job_name or name_from_base(self._base_name())
        entrypoint, extra = self._entrypoint_for(name, code, source_dir, dependencies)
        normalized_inputs = self._normalize_inputs(name, [*(inputs or []), *extra])
        normalized_outputs = self._normalize_outputs(name, outputs or [])
        # A pipeline's parameters and properties (``.expr``) stay as they are: the server resolves them.
        self.arguments = (
            [a if hasattr(a, "expr") else str(a) for a in arguments] if arguments is not None else None
        )
        return self._request(name, entrypoint, normalized_inputs, normalized_outputs, None)

    def _entrypoint_for(
        self, name: str, code: str | None, source_dir: str | None, dependencies: list[str] | None
    ) -> tuple[list[str] | None, list[ProcessingInput]]:
        """The container's entrypoint and the inputs that carry its code."""
        if code is not None or source_dir is not None or dependencies:
            raise ValidationError(
                "Processor runs its image's entrypoint and takes no code; use ScriptProcessor or "
                "FrameworkProcessor to run a script"
            )
        return self.entrypoint, []

    def _start(
        self,
        entrypoint: list[str] | None,
        inputs: list[ProcessingInput] | None,
        outputs: list[ProcessingOutput] | None,
        arguments: list[Any] | None,
        wait: bool,
        logs: bool,
        job_name: str | None,
        experiment_config: dict[str, str] | None,
        extra_inputs: list[ProcessingInput] = (),  # type: ignore[assignment]
    ) -> None:
        name = self._current_job_name or job_name or name_from_base(self._base_name())
        self._current_job_name = None
        normalized_inputs = self._normalize_inputs(name, [*(inputs or []), *extra_inputs])
        normalized_outputs = self._normalize_outputs(name, outputs or [])
        self.arguments = [str(a) for a in arguments] if arguments is not None else None
        request = self._request(name, entrypoint, normalized_inputs, normalized_outputs, experiment_config)
        self.sagemaker_session.client.create_processing_job(request)
        job = ProcessingJob(
            self.sagemaker_session, name, normalized_inputs, normalized_outputs, self.output_kms_key
        )
        self.jobs.append(job)
        self.latest_job = job
        if wait:
            job.wait(logs=logs)

    def _request(
        self,
        name: str,
        entrypoint: list[str] | None,
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
        experiment_config: dict[str, str] | None,
    ) -> dict[str, Any]:
        app: dict[str, Any] = {"ImageUri": self.image_uri}
        if entrypoint:
            app["ContainerEntrypoint"] = list(entrypoint)
        if self.arguments is not None:
            app["ContainerArguments"] = self.arguments
        request: dict[str, Any] = {
            "ProcessingJobName": name,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                    "VolumeSizeInGB": self.volume_size_in_gb,
                }
            },
            "AppSpecification": app,
            "RoleArn": self.role or "arn:aws:iam::000000000000:role/KilnProcessing",
        }
        if inputs:
            request["ProcessingInputs"] = [i._to_request_dict() for i in inputs]
        if outputs:
            request["ProcessingOutputConfig"] = {"Outputs": [o._to_request_dict() for o in outputs]}
        if self.max_runtime_in_seconds is not None:
            request["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        if self.env:
            request["Environment"] = dict(self.env)
        if experiment_config:
            request["ExperimentConfig"] = experiment_config
        return request

    def _normalize_inputs(self, job: str, inputs: list[ProcessingInput]) -> list[ProcessingInput]:
        for count, item in enumerate(inputs, start=1):
            if item.input_name is None:
                item.input_name = f"input-{count}"
            # A pipeline's reference (``.expr``) names data the server resolves when the step runs.
            if item.source is not None and not hasattr(item.source, "expr") and not is_uri(item.source):
                local = Path(item.source).expanduser()
                if not local.exists():
                    raise ValidationError(
                        f"ProcessingInput source {item.source!r} is neither a URI nor a local path"
                    )
                uploaded = self.sagemaker_session.upload_data(
                    local, key_prefix=f"{job}/input/{item.input_name}"
                )
                # A folder's URI is its prefix; a file's is the file itself (it lands at destination/<name>).
                item.source = uploaded
        return inputs

    def _normalize_outputs(self, job: str, outputs: list[ProcessingOutput]) -> list[ProcessingOutput]:
        bucket = self.sagemaker_session.bucket_uri()
        for count, item in enumerate(outputs, start=1):
            if item.output_name is None:
                item.output_name = f"output-{count}"
            if item.destination is None or not (
                hasattr(item.destination, "expr") or is_uri(item.destination)
            ):
                item.destination = f"{bucket}/{job}/output/{item.output_name}"
        return outputs


class ScriptProcessor(Processor):
    """Runs a script (``code``) with ``command`` (e.g. ``["python3"]``) in a framework image."""

    def __init__(
        self,
        role: str | None = None,
        image_uri: str | None = None,
        command: list[str] | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        volume_size_in_gb: int = 30,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: Any = None,
    ) -> None:
        if not command:
            raise ValidationError("ScriptProcessor needs command, e.g. ['python3']")
        self.command = list(command)
        super().__init__(
            role=role,
            image_uri=image_uri,
            instance_count=instance_count,
            instance_type=instance_type,
            volume_size_in_gb=volume_size_in_gb,
            volume_kms_key=volume_kms_key,
            output_kms_key=output_kms_key,
            max_runtime_in_seconds=max_runtime_in_seconds,
            base_job_name=base_job_name,
            sagemaker_session=sagemaker_session,
            env=env,
            tags=tags,
            network_config=network_config,
        )

    def run(  # type: ignore[override]
        self,
        code: str,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[Any] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
        kms_key: str | None = None,
    ) -> None:
        """Upload ``code`` (a local file, or a URI used as it is) and run it."""
        _check_wait(wait, logs)
        name = job_name or name_from_base(self._base_name())
        entrypoint, extra = self._entrypoint_for(name, code, None, None)
        self._current_job_name = name
        self._start(entrypoint, inputs, outputs, arguments, wait, logs, name, experiment_config, extra)

    def _entrypoint_for(
        self, name: str, code: str | None, source_dir: str | None, dependencies: list[str] | None
    ) -> tuple[list[str] | None, list[ProcessingInput]]:
        if code is None:
            raise ValidationError(f"{type(self).__name__} needs code: the script to run")
        if source_dir is not None or dependencies:
            raise ValidationError("ScriptProcessor runs one file; use FrameworkProcessor for a source_dir")
        code_uri, file_name = self._upload_code(name, code)
        code_input = ProcessingInput(source=code_uri, destination=CODE_DIR, input_name="code")
        return [*self.command, f"{CODE_DIR}/{file_name}"], [code_input]

    def _upload_code(self, job: str, code: str) -> tuple[str, str]:
        if is_uri(code):
            return code, code.rstrip("/").rsplit("/", 1)[-1]
        path = Path(code).expanduser()
        if not path.is_file():
            raise ValidationError(
                f"code {code!r} must be a local file or a URI: "
                + (
                    "a folder is not accepted (use FrameworkProcessor's source_dir)"
                    if path.is_dir()
                    else "it does not exist"
                )
            )
        uri = f"{self.sagemaker_session.bucket_uri()}/{job}/input/code/{path.name}"
        return self.sagemaker_session.upload_file(path, uri), path.name


class SKLearnProcessor(ScriptProcessor):
    """A ScriptProcessor in SageMaker's scikit-learn image (``command`` defaults to ``["python3"]``)."""

    def __init__(
        self,
        framework_version: str,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        command: list[str] | None = None,
        volume_size_in_gb: int = 30,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: Any = None,
    ) -> None:
        self.framework_version = framework_version
        super().__init__(
            role=role,
            image_uri=framework_image_uri("sklearn", framework_version),
            command=command or ["python3"],
            instance_count=instance_count,
            instance_type=instance_type,
            volume_size_in_gb=volume_size_in_gb,
            volume_kms_key=volume_kms_key,
            output_kms_key=output_kms_key,
            max_runtime_in_seconds=max_runtime_in_seconds,
            base_job_name=base_job_name,
            sagemaker_session=sagemaker_session,
            env=env,
            tags=tags,
            network_config=network_config,
        )


class FrameworkProcessor(ScriptProcessor):
    """Runs ``code`` from a ``source_dir`` in a framework's image, e.g. PyTorch's (``estimator_cls``)."""

    def __init__(
        self,
        estimator_cls: type,
        framework_version: str,
        role: str | None = None,
        instance_count: int | None = None,
        instance_type: str | None = None,
        py_version: str = "py3",
        image_uri: str | None = None,
        command: list[str] | None = None,
        volume_size_in_gb: int = 30,
        volume_kms_key: str | None = None,
        output_kms_key: str | None = None,
        code_location: str | None = None,
        max_runtime_in_seconds: int | None = None,
        base_job_name: str | None = None,
        sagemaker_session: Session | None = None,
        env: dict[str, str] | None = None,
        tags: list[dict[str, str]] | None = None,
        network_config: Any = None,
    ) -> None:
        self.estimator_cls = estimator_cls
        self.framework_version = framework_version
        self.py_version = py_version
        self.code_location = code_location.rstrip("/") if code_location else None
        self.framework_name = str(
            getattr(estimator_cls, "framework_name", "") or estimator_cls.__name__.lower()
        )
        super().__init__(
            role=role,
            image_uri=image_uri or framework_image_uri(self.framework_name, framework_version, py_version),
            command=command or ["python"],
            instance_count=instance_count,
            instance_type=instance_type,
            volume_size_in_gb=volume_size_in_gb,
            volume_kms_key=volume_kms_key,
            output_kms_key=output_kms_key,
            max_runtime_in_seconds=max_runtime_in_seconds,
            base_job_name=base_job_name,
            sagemaker_session=sagemaker_session,
            env=env,
            tags=tags,
            network_config=network_config,
        )

    def _base_name(self) -> str:
        return self.base_job_name or self.framework_name

    def run(  # type: ignore[override]
        self,
        code: str,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        git_config: dict[str, str] | None = None,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        arguments: list[Any] | None = None,
        wait: bool = True,
        logs: bool = True,
        job_name: str | None = None,
        experiment_config: dict[str, str] | None = None,
        kms_key: str | None = None,
        codeartifact_repo_arn: str | None = None,
    ) -> None:
        """Pack ``source_dir`` (with ``code`` in it) and ``dependencies``, upload them with a
        ``runproc.sh`` that unpacks and runs ``command code arguments``, and run the job."""
        if git_config is not None:
            raise ValidationError(
                "FrameworkProcessor.run(git_config=...) is not supported by Kiln: "
                "clone the repository and pass source_dir"
            )
        _check_wait(wait, logs)
        name = job_name or name_from_base(self._base_name())
        entrypoint, extra = self._entrypoint_for(name, code, source_dir, dependencies)
        self._current_job_name = name
        self._start(entrypoint, inputs, outputs, arguments, wait, logs, name, experiment_config, extra)

    def _entrypoint_for(
        self, name: str, code: str | None, source_dir: str | None, dependencies: list[str] | None
    ) -> tuple[list[str] | None, list[ProcessingInput]]:
        if code is None:
            raise ValidationError("FrameworkProcessor needs code: the script to run, in source_dir")
        prefix = f"{self.code_location or self.sagemaker_session.bucket_uri()}/{name}/source"
        archive = pack_source(code, source_dir, dependencies or [])
        code_uri = self.sagemaker_session.upload_bytes(archive, f"{prefix}/sourcedir.tar.gz")
        script = RUNPROC.format(code_dir=CODE_DIR, command=" ".join(self.command), code=code)
        runproc_uri = self.sagemaker_session.upload_bytes(script.encode(), f"{prefix}/runproc.sh")
        extra = [
            ProcessingInput(source=code_uri, destination=f"{CODE_DIR}/", input_name="code"),
            ProcessingInput(source=runproc_uri, destination=ENTRYPOINT_DIR, input_name="entrypoint"),
        ]
        return ["/bin/bash", f"{ENTRYPOINT_DIR}/runproc.sh"], extra
