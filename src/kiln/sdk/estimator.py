"""``Estimator`` and ``PyTorch``: SageMaker v2's training API over Kiln (contract §3.2–3.3)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from kiln.errors import ValidationError
from kiln.sdk.inputs import channels_from_inputs
from kiln.sdk.job_logs import check_job_status, closing_lines, print_job_logs, wait_for_job
from kiln.sdk.session import Session
from kiln.sdk.source_code import pack_source, resolve_entry_point

__all__ = ["Estimator", "PyTorch", "TrainingJobHandle", "default_job_name"]

MAX_JOB_NAME = 63
RESERVED_TOOLKIT_KEYS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
)


def default_job_name(base: str) -> str:
    """``<base>-YYYY-MM-DD-HH-MM-SS-mmm`` within 63 characters, as SageMaker names jobs."""
    now = datetime.now(timezone.utc)
    stamp = now.strftime("%Y-%m-%d-%H-%M-%S-") + f"{now.microsecond // 1000:03d}"
    base = re.sub(r"[^a-zA-Z0-9-]", "-", base).strip("-") or "kiln"
    return f"{base[: MAX_JOB_NAME - len(stamp) - 1]}-{stamp}"


class TrainingJobHandle:
    """``estimator.latest_training_job``: a started job, by name."""

    def __init__(self, session: Session, name: str) -> None:
        self.sagemaker_session = session
        self.name = name
        self.job_name = name

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_training_job(self.name)

    def wait(self, logs: bool = True) -> dict[str, Any]:
        if logs:
            description = print_job_logs(self.sagemaker_session.client, self.name, follow=True)
        else:
            description = wait_for_job(self.sagemaker_session.client, self.name)
        check_job_status(description)
        return description

    def stop(self) -> None:
        self.sagemaker_session.stop_training_job(self.name)


class Estimator:
    """Runs ``entry_point`` as a SageMaker script-mode training job on Kiln."""

    default_base_job_name = "kiln-training"

    def __init__(
        self,
        entry_point: str,
        source_dir: str | None = None,
        dependencies: Sequence[str] | None = None,
        hyperparameters: dict[str, Any] | None = None,
        instance_count: int = 1,
        instance_type: str = "local",
        output_path: str | None = None,
        checkpoint_s3_uri: str | None = None,
        checkpoint_local_path: str | None = None,
        max_run: int = 24 * 60 * 60,
        environment: dict[str, str] | None = None,
        metric_definitions: list[dict[str, str]] | None = None,
        base_job_name: str | None = None,
        role: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        sagemaker_session: Session | None = None,
        max_retry_attempts: int | None = None,
        distribution: dict[str, Any] | None = None,
        tensorboard_output_config: Any = None,
        code_location: str | None = None,
        container_log_level: int = 20,
        tags: list[dict[str, str]] | None = None,
        training_steps: int | None = None,
        evaluation_steps: int | None = None,
        priority: int | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise ValidationError(
                f"{type(self).__name__} got unknown arguments: {', '.join(sorted(kwargs))}; "
                "see help(kiln.Estimator) for the accepted ones"
            )
        resolve_entry_point(entry_point, source_dir)  # a missing script is an error now, not in the job
        if not isinstance(instance_count, int) or instance_count < 1:
            raise ValidationError(f"instance_count {instance_count!r} must be a whole number ≥ 1")
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = list(dependencies or [])
        self._hyperparameters = dict(hyperparameters or {})
        # The 2018 tutorial's Estimator-functions arguments reach Kiln's trainer as hyperparameters.
        if training_steps is not None:
            self._hyperparameters["training_steps"] = training_steps
        if evaluation_steps is not None:
            self._hyperparameters["evaluation_steps"] = evaluation_steps
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.output_path = output_path
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.checkpoint_local_path = checkpoint_local_path
        self.max_run = max_run
        self.environment = dict(environment or {})
        self.metric_definitions = list(metric_definitions or [])
        self.base_job_name = base_job_name
        self.role = role
        self.framework_version = framework_version
        self.py_version = py_version
        self.sagemaker_session = sagemaker_session or Session()
        self.max_retry_attempts = max_retry_attempts
        self.distribution = distribution
        self.tensorboard_output_config = tensorboard_output_config
        self.code_location = code_location
        self.container_log_level = container_log_level
        self.tags = list(tags or [])
        # Kiln's: order among jobs waiting for capacity (-1000 … 1000, higher first; default 0).
        self.priority = priority
        self.latest_training_job: TrainingJobHandle | None = None
        self.tensorboard: Any = None  # the TensorBoardSession of run_tensorboard_locally
        self._current_job_name: str | None = None

    # -- hyperparameters ------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, str]:
        """Every value JSON-encoded, as SageMaker's Framework estimators send them."""
        return {str(k): json.dumps(v) for k, v in self._hyperparameters.items()}

    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    # -- training -------------------------------------------------------------------------------------

    def _output_path(self) -> str:
        return (self.output_path or self.sagemaker_session.bucket_uri()).rstrip("/")

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        session = self.sagemaker_session
        code_root = (self.code_location or self._output_path()).rstrip("/")
        source_uri = f"{code_root}/{job_name}/source/sourcedir.tar.gz"
        session.upload_bytes(pack_source(self.entry_point, self.source_dir, self.dependencies), source_uri)
        _, program = resolve_entry_point(self.entry_point, self.source_dir)
        hyperparameters = self.hyperparameters()
        hyperparameters.update(
            {
                "sagemaker_program": json.dumps(program),
                "sagemaker_submit_directory": json.dumps(source_uri),
                "sagemaker_container_log_level": json.dumps(self.container_log_level),
                "sagemaker_job_name": json.dumps(job_name),
                "sagemaker_region": json.dumps("local"),
            }
        )
        hyperparameters.update(self._distribution_hyperparameters())
        request: dict[str, Any] = {
            "TrainingJobName": job_name,
            "HyperParameters": hyperparameters,
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "MetricDefinitions": self.metric_definitions,
            },
            "InputDataConfig": channels_from_inputs(inputs),
            "OutputDataConfig": {"S3OutputPath": self._output_path()},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": 30,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_run},
            "Environment": self.environment,
            "Tags": self.tags,
        }
        if self.role:
            request["RoleArn"] = self.role
        if self.checkpoint_s3_uri:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint_s3_uri}
            if self.checkpoint_local_path:
                request["CheckpointConfig"]["LocalPath"] = self.checkpoint_local_path
        if self.tensorboard_output_config is not None:
            config = self.tensorboard_output_config
            request["TensorBoardOutputConfig"] = config if isinstance(config, dict) else config.to_request()
        if self.max_retry_attempts is not None:
            request["RetryStrategy"] = {"MaximumRetryAttempts": self.max_retry_attempts}
        if self.priority is not None:
            request["Priority"] = self.priority
        return request

    def _distribution_hyperparameters(self) -> dict[str, str]:
        if not self.distribution:
            return {}
        flags: dict[str, str] = {}
        torch_distributed = self.distribution.get("torch_distributed", {})
        if torch_distributed.get("enabled"):
            flags["sagemaker_torch_distributed_enabled"] = "true"
            flags["sagemaker_instance_type"] = json.dumps(self.instance_type)
        return flags

    def fit(
        self,
        inputs: Any = None,
        wait: bool = True,
        logs: bool | str = True,
        job_name: str | None = None,
        run_tensorboard_locally: bool = False,
        **_ignored: Any,
    ) -> None:
        """Start a training job on ``inputs``; with ``wait``, stream its logs and raise if it fails.

        ``run_tensorboard_locally`` serves TensorBoard over the job's summaries while it runs (as
        SageMaker's 2018 SDK did) and prints its URL; it keeps serving until this program exits.
        """
        if run_tensorboard_locally and not wait:
            raise ValidationError("run_tensorboard_locally needs wait=True (SageMaker's rule)")
        name = job_name or default_job_name(self.base_job_name or self.default_base_job_name)
        request = self._training_request(name, inputs)
        self.sagemaker_session.client.create_training_job(request)
        self._current_job_name = name
        self.latest_training_job = TrainingJobHandle(self.sagemaker_session, name)
        if run_tensorboard_locally:
            from kiln.sdk.tensorboard import TensorBoardSession

            self.tensorboard = TensorBoardSession(self.sagemaker_session.client, [name])
            print(f"TensorBoard for {name}: {self.tensorboard.start()}", flush=True)
        if wait:
            self.latest_training_job.wait(logs=bool(logs) and logs != "None")

    # -- after training -------------------------------------------------------------------------------

    def _require_job(self) -> TrainingJobHandle:
        if self.latest_training_job is None:
            raise ValidationError("this estimator has not started a training job yet; call fit() first")
        return self.latest_training_job

    @property
    def model_data(self) -> str:
        description = self._require_job().describe()
        artifacts = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        if not artifacts:
            raise ValidationError(
                f"training job {description['TrainingJobName']} has no model yet "
                f"(status {description['TrainingJobStatus']})"
            )
        return str(artifacts)

    model_class_name = "Model"

    def create_model(
        self, entry_point: str | None = None, source_dir: str | None = None, **kwargs: Any
    ) -> Any:
        """The trained model as a deployable ``Model`` (``PyTorchModel`` for ``PyTorch``).

        Unlike SageMaker, the training script is not reused as inference code unless you pass it:
        Kiln's default handlers serve TorchScript, pickled and scikit-learn models as they are, and
        an Estimator-functions export carries its own ``code/inference.py``.
        """
        from kiln.sdk import model as models

        cls = getattr(models, self.model_class_name)
        return cls(
            model_data=self.model_data,
            entry_point=entry_point,
            source_dir=source_dir,
            role=self.role,
            framework_version=self.framework_version,
            py_version=self.py_version,
            sagemaker_session=self.sagemaker_session,
            **kwargs,
        )

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str = "local",
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        wait: bool = True,
        model_name: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Deploy the trained model to an endpoint; returns a ``Predictor`` (SageMaker's signature)."""
        # SageMaker names the model (and so the endpoint) after the training job.
        name = model_name or (self.latest_training_job.name if self.latest_training_job else None)
        model = self.create_model(entry_point=entry_point, source_dir=source_dir, env=env, name=name)
        return model.deploy(
            initial_instance_count=initial_instance_count,
            instance_type=instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name,
            wait=wait,
            **kwargs,
        )

    def logs(self) -> None:
        handle = self._require_job()
        print_job_logs(self.sagemaker_session.client, handle.name, follow=True)

    def training_job_description(self) -> dict[str, Any]:
        return self._require_job().describe()

    def final_metrics(self) -> dict[str, float]:
        """The last value of each metric (``FinalMetricDataList``) as a dict."""
        return {m["MetricName"]: m["Value"] for m in self._require_job().describe()["FinalMetricDataList"]}

    def closing_summary(self) -> list[str]:
        return closing_lines(self._require_job().describe())

    @classmethod
    def attach(
        cls, training_job_name: str, sagemaker_session: Session | None = None, **_ignored: Any
    ) -> Estimator:
        """Rebuild the estimator of an existing job; its hyperparameters echo back verbatim."""
        session = sagemaker_session or Session()
        description = session.describe_training_job(training_job_name)
        raw = description.get("HyperParameters", {})
        decoded = {k: _decode(v) for k, v in raw.items()}
        user = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
        estimator = cls.__new__(cls)
        Estimator._init_attached(estimator, description, decoded, user, session)
        estimator.latest_training_job = TrainingJobHandle(session, training_job_name)
        estimator._current_job_name = training_job_name
        return estimator

    @staticmethod
    def _init_attached(
        estimator: Estimator,
        description: dict[str, Any],
        decoded: dict[str, Any],
        user: dict[str, Any],
        session: Session,
    ) -> None:
        resources = description.get("ResourceConfig", {})
        estimator.entry_point = str(decoded.get("sagemaker_program", ""))
        estimator.source_dir = decoded.get("sagemaker_submit_directory")
        estimator.dependencies = []
        estimator._hyperparameters = user
        estimator.instance_count = int(resources.get("InstanceCount", 1))
        estimator.instance_type = str(resources.get("InstanceType", "local"))
        estimator.output_path = description.get("OutputDataConfig", {}).get("S3OutputPath")
        checkpoint = description.get("CheckpointConfig") or {}
        estimator.checkpoint_s3_uri = checkpoint.get("S3Uri")
        estimator.checkpoint_local_path = checkpoint.get("LocalPath")
        estimator.max_run = int(description.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400))
        estimator.environment = dict(description.get("Environment", {}))
        estimator.metric_definitions = list(
            description.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        )
        estimator.base_job_name = None
        estimator.role = description.get("RoleArn")
        estimator.framework_version = None
        estimator.py_version = None
        estimator.sagemaker_session = session
        estimator.max_retry_attempts = (description.get("RetryStrategy") or {}).get("MaximumRetryAttempts")
        estimator.distribution = None
        estimator.tensorboard_output_config = None
        estimator.code_location = None
        estimator.container_log_level = int(decoded.get("sagemaker_container_log_level", 20))
        estimator.tags = []
        estimator.priority = description.get("Priority")


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


class PyTorch(Estimator):
    """SageMaker's ``sagemaker.pytorch.PyTorch``: a script-mode estimator with PyTorch defaults."""

    default_base_job_name = "pytorch-training"
    model_class_name = "PyTorchModel"

    def __init__(
        self,
        entry_point: str,
        framework_version: str | None = None,
        py_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(entry_point, framework_version=framework_version, py_version=py_version, **kwargs)
