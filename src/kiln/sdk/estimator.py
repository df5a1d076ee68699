"""``Estimator``: SageMaker v2's training API over Kiln (contract §3.2–3.3).

``Estimator`` runs an entry point as a script-mode training job; its model deploys with Kiln's default
handlers. ``Framework`` (``sdk/framework.py``) adds SageMaker's rule that the training script is also
the inference script.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from kiln.errors import ValidationError
from kiln.sdk.arguments import (
    CREATE_MODEL_INERT,
    DEPLOY_INERT,
    ESTIMATOR_INERT,
    FIT_INERT,
    accepted_names,
    inert_for_class,
    init_chain,
    take_inert,
)
from kiln.sdk.git_source import clone_git_source
from kiln.sdk.inputs import TrainingInput, channels_from_inputs
from kiln.sdk.job_logs import check_job_status, closing_lines, print_job_logs, wait_for_job
from kiln.sdk.model import Model
from kiln.sdk.naming import name_from_base
from kiln.sdk.predictor import Predictor
from kiln.sdk.session import Session
from kiln.sdk.source_code import pack_source, resolve_entry_point
from kiln.sdk.tensorboard import TensorBoardSession

if TYPE_CHECKING:
    from kiln.sdk.transformer import Transformer

__all__ = ["Estimator", "TrainingJobHandle", "decode_hyperparameter"]

DEFAULT_MAX_RUN_SECONDS = 24 * 60 * 60  # SageMaker's default max_run
# A spot job that loses its instance restarts from its checkpoints; Kiln's counterpart of the
# interruption is a lost host, restarted this many times unless max_retry_attempts says otherwise.
SPOT_RETRY_ATTEMPTS = 3
# How long a wait may outlast the job's own limit (queueing for capacity, uploading the model).
WAIT_SLACK_SECONDS = 3600
RESERVED_TOOLKIT_KEYS = (
    "sagemaker_program",
    "sagemaker_submit_directory",
    "sagemaker_container_log_level",
    "sagemaker_job_name",
    "sagemaker_region",
)


def decode_hyperparameter(value: str) -> Any:
    try:
        return json.loads(value)
    except (json.JSONDecodeError, TypeError):
        return value


def _encoded(value: Any) -> Any:
    if hasattr(value, "expr") and hasattr(value, "to_string"):
        return value.to_string()  # an expression: stays one in the request
    return json.dumps(value)


class TrainingJobHandle:
    """``estimator.latest_training_job``: a started job, by name."""

    def __init__(self, session: Session, name: str, max_wait_seconds: float | None = None) -> None:
        self.sagemaker_session = session
        self.name = name
        self.job_name = name
        self.max_wait_seconds = max_wait_seconds

    def describe(self) -> dict[str, Any]:
        return self.sagemaker_session.describe_training_job(self.name)

    def wait(self, logs: bool = True) -> dict[str, Any]:
        client = self.sagemaker_session.client
        if logs:
            description = print_job_logs(client, self.name, follow=True)
        else:
            attempts = None
            if self.max_wait_seconds is not None:
                attempts = math.ceil((self.max_wait_seconds + WAIT_SLACK_SECONDS) / 0.5)
            description = wait_for_job(client, self.name, max_attempts=attempts)
        check_job_status(description)
        return description

    def stop(self) -> None:
        self.sagemaker_session.stop_training_job(self.name)


class Estimator:
    """Runs ``entry_point`` as a SageMaker script-mode training job on Kiln.

    Every argument of SageMaker v2's ``EstimatorBase`` is accepted; those without a counterpart here
    (VPC, KMS, debugger, warm pools, …) are kept in the request's ``SdkArguments`` and logged once.
    """

    default_base_job_name: ClassVar[str] = "kiln-training"
    model_class: ClassVar[type[Model]] = Model
    inert_arguments: ClassVar[dict[str, Any]] = dict(ESTIMATOR_INERT)
    # False for a built-in algorithm's estimator (kiln.sdk.algorithm_estimator): the image is the code.
    needs_entry_point: ClassVar[bool] = True

    # The estimator class of the built-in algorithms (kiln.sdk.algorithm_estimator registers it).
    algorithm_class: ClassVar[type[Estimator] | None] = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        """``Estimator(image_uri=<a built-in algorithm's image>)`` with no entry point is SageMaker's way
        to run a built-in algorithm: it becomes an ``AlgorithmEstimator``."""
        algorithm = Estimator.algorithm_class
        wants_algorithm = not args and kwargs.get("entry_point") is None and kwargs.get("image_uri")
        if cls is Estimator and wants_algorithm and algorithm is not None:
            return cast(Self, super().__new__(algorithm))
        return super().__new__(cls)

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
        max_run: int = DEFAULT_MAX_RUN_SECONDS,
        max_wait: int | None = None,
        use_spot_instances: bool = False,
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
        git_config: dict[str, Any] | None = None,
        model_uri: str | None = None,
        model_channel_name: str = "model",
        training_steps: int | None = None,
        evaluation_steps: int | None = None,
        priority: int | None = None,
        **kwargs: Any,
    ) -> None:
        if "distributions" in kwargs:  # SageMaker v1's name, which v2 still takes through **kwargs
            distribution = distribution or kwargs.pop("distributions")
        self.sdk_arguments = take_inert(
            type(self).__name__,
            kwargs,
            inert_for_class(type(self)),
            accepted_names(init_chain(type(self)), ()),
        )
        self.git_config = git_config
        if git_config:
            cloned = clone_git_source(git_config, entry_point, source_dir, dependencies or [])
            entry_point, source_dir, dependencies = cloned.entry_point, cloned.source_dir, cloned.dependencies
        if self.needs_entry_point:  # a missing script is an error now, not in the job
            resolve_entry_point(entry_point, source_dir)
        if not isinstance(instance_count, int) or instance_count < 1:
            raise ValidationError(f"instance_count {instance_count!r} must be a whole number ≥ 1")
        if max_wait is not None and max_wait < max_run:
            raise ValidationError(
                f"max_wait ({max_wait} s) must be at least max_run ({max_run} s): it bounds the whole job, "
                "waiting included"
            )
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
        self.max_wait = max_wait
        self.use_spot_instances = use_spot_instances
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
        self.model_uri = model_uri
        self.model_channel_name = model_channel_name
        # Kiln's: order among jobs waiting for capacity (-1000 … 1000, higher first; default 0).
        self.priority = priority
        self.latest_training_job: TrainingJobHandle | None = None
        self.tensorboard: TensorBoardSession | None = None  # run_tensorboard_locally's
        self.uploaded_source: str | None = None  # sourcedir.tar.gz of the latest job
        self._current_job_name: str | None = None

    # -- hyperparameters ------------------------------------------------------------------------------

    def hyperparameters(self) -> dict[str, str]:
        """Every value JSON-encoded, as SageMaker's Framework estimators send them; a pipeline's
        parameter or property (``kiln.workflow``) is sent as its expression joined into a string, which
        the server resolves when the step runs (as SageMaker's SDK does)."""
        return {str(k): _encoded(v) for k, v in self._hyperparameters.items()}

    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    # -- training -------------------------------------------------------------------------------------

    def _output_path(self) -> str:
        return (self.output_path or self.sagemaker_session.bucket_uri()).rstrip("/")

    def _base_name(self) -> str:
        return self.base_job_name or self.default_base_job_name

    def _upload_source(self, job_name: str) -> str:
        code_root = (self.code_location or self._output_path()).rstrip("/")
        source_uri = f"{code_root}/{job_name}/source/sourcedir.tar.gz"
        self.sagemaker_session.upload_bytes(
            pack_source(self.entry_point, self.source_dir, self.dependencies), source_uri
        )
        return source_uri

    def _training_request(self, job_name: str, inputs: Any) -> dict[str, Any]:
        hyperparameters = self.hyperparameters()
        if self.needs_entry_point:
            source_uri = self._upload_source(job_name)
            self.uploaded_source = source_uri
            _, program = resolve_entry_point(self.entry_point, self.source_dir)
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
        channels = channels_from_inputs(inputs)
        if self.model_uri:  # SageMaker's model channel: a model to start from, in File mode
            model_input = TrainingInput(self.model_uri, content_type="application/x-sagemaker-model")
            channels.append({"ChannelName": self.model_channel_name, **model_input.config})
        request: dict[str, Any] = {
            "TrainingJobName": job_name,
            "HyperParameters": hyperparameters,
            "AlgorithmSpecification": {
                "TrainingInputMode": "File",
                "MetricDefinitions": self.metric_definitions,
            },
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": self._output_path()},
            "ResourceConfig": {
                "InstanceType": self.instance_type,
                "InstanceCount": self.instance_count,
                "VolumeSizeInGB": int(self.sdk_arguments.get("volume_size", 30)),
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
        retries = self.max_retry_attempts
        if retries is None and self.use_spot_instances:
            retries = SPOT_RETRY_ATTEMPTS
        if retries is not None:
            request["RetryStrategy"] = {"MaximumRetryAttempts": retries}
        if self.priority is not None:
            request["Priority"] = self.priority
        sdk_arguments = dict(self.sdk_arguments)
        if self.use_spot_instances:
            sdk_arguments["use_spot_instances"] = True
        if self.max_wait is not None:
            sdk_arguments["max_wait"] = self.max_wait
        if self.git_config:
            sdk_arguments["git_config"] = {
                k: v for k, v in self.git_config.items() if k in ("repo", "branch", "commit")
            }
        if sdk_arguments:
            request["SdkArguments"] = sdk_arguments
        return request

    def build_training_request(self, inputs: Any = None, job_name: str | None = None) -> dict[str, Any]:
        """The CreateTrainingJob request ``fit`` would send, without sending it (the source is
        uploaded): what a pipeline's TrainingStep carries."""
        return self._training_request(job_name or name_from_base(self._base_name()), inputs)

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
        logs: bool | str = "All",
        job_name: str | None = None,
        run_tensorboard_locally: bool = False,
        **kwargs: Any,
    ) -> None:
        """Start a training job on ``inputs``; with ``wait``, stream its logs and raise if it fails.

        ``run_tensorboard_locally`` serves TensorBoard over the job's summaries while it runs (as
        SageMaker's 2018 SDK did) and prints its URL; it keeps serving until this program exits.
        """
        kept = take_inert(
            f"{type(self).__name__}.fit", kwargs, FIT_INERT, accepted_names([Estimator.fit], ())
        )
        if run_tensorboard_locally and not wait:
            raise ValidationError("run_tensorboard_locally needs wait=True (SageMaker's rule)")
        name = job_name or name_from_base(self._base_name())
        request = self._training_request(name, inputs)
        if kept:
            request["SdkArguments"] = {**request.get("SdkArguments", {}), **kept}
        self.sagemaker_session.client.create_training_job(request)
        self._current_job_name = name
        self.latest_training_job = TrainingJobHandle(
            self.sagemaker_session, name, float(self.max_wait or self.max_run)
        )
        if run_tensorboard_locally:
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

    def _model_name(self, name: str | None) -> str:
        """``name``, or a fresh one from the base job name (SageMaker's ``_get_or_create_name``)."""
        return name or name_from_base(self._base_name())

    def create_model(
        self,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        role: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> Model:
        """The trained model, deployable with Kiln's default handlers (or ``entry_point``'s, if given).

        Script-mode scripts are reused as inference code by ``Framework`` estimators (``kiln.PyTorch``);
        a plain ``Estimator`` serves TorchScript, pickled and scikit-learn models as they are, and an
        Estimator-functions export carries its own ``code/inference.py``.
        """
        inert = {k: kwargs.pop(k) for k in list(kwargs) if k in CREATE_MODEL_INERT}
        model = self.model_class(
            model_data=self.model_data,
            entry_point=entry_point,
            source_dir=source_dir,
            dependencies=dependencies,
            role=role or self.role,
            framework_version=self.framework_version,
            py_version=self.py_version,
            name=self._model_name(name),
            container_log_level=self.container_log_level,
            sagemaker_session=self.sagemaker_session,
            **kwargs,
        )
        model.sdk_arguments.update(
            take_inert(f"{type(self).__name__}.create_model", inert, CREATE_MODEL_INERT, ())
        )
        return model

    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        wait: bool = True,
        model_name: str | None = None,
        tags: list[dict[str, str]] | None = None,
        **kwargs: Any,
    ) -> Predictor:
        """``create_model(**kwargs)`` under a fresh name (or ``model_name``), then ``Model.deploy``.

        ``kwargs`` also carry ``create_model``'s arguments (``entry_point``, ``source_dir``, …), so
        ``deploy(entry_point="inference.py")`` serves other code than the training script.
        """
        inert = {k: kwargs.pop(k) for k in list(kwargs) if k in DEPLOY_INERT}
        kept = take_inert(f"{type(self).__name__}.deploy", inert, DEPLOY_INERT, ())
        self._check_model_arguments(kwargs)
        default_name = name_from_base(self._base_name())
        model = self.create_model(name=model_name or default_name, **kwargs)
        model.sdk_arguments.update(kept)
        return model.deploy(
            initial_instance_count=initial_instance_count,
            instance_type=instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name or default_name,
            tags=tags or self.tags,
            wait=wait,
        )

    def transformer(
        self,
        instance_count: int,
        instance_type: str,
        strategy: str | None = None,
        assemble_with: str | None = None,
        output_path: str | None = None,
        output_kms_key: str | None = None,
        accept: str | None = None,
        env: dict[str, str] | None = None,
        max_concurrent_transforms: int | None = None,
        max_payload: int | None = None,
        tags: list[dict[str, str]] | None = None,
        role: str | None = None,
        volume_kms_key: str | None = None,
        entry_point: str | None = None,
        vpc_config_override: Any = None,
        enable_network_isolation: bool | None = None,
        model_name: str | None = None,
        **kwargs: Any,
    ) -> Transformer:
        """A ``Transformer`` for the trained model (registered under ``model_name`` or a fresh name),
        as SageMaker's ``EstimatorBase.transformer``; ``kwargs`` go to ``create_model``.

        ``vpc_config_override`` and ``enable_network_isolation`` are accepted and have no effect: a
        Kiln instance runs on this machine, in no VPC, with the network the machine has.
        """
        del vpc_config_override, enable_network_isolation
        model = self.create_model(
            entry_point=entry_point, role=role, name=model_name or self._model_name(None), **kwargs
        )
        return model.transformer(
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            output_kms_key=output_kms_key,
            accept=accept,
            env=env,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            tags=tags or self.tags,
            volume_kms_key=volume_kms_key,
        )

    def _check_model_arguments(self, given: dict[str, Any]) -> None:
        """Names ``deploy`` passes on to ``create_model`` / the model class, checked with deploy's name."""
        valid = accepted_names(
            [type(self).create_model, Estimator.deploy, self.model_class.__init__, Model.__init__],
            set(DEPLOY_INERT) | set(CREATE_MODEL_INERT) | set(inert_for_class(self.model_class)),
        )
        unknown = {k: v for k, v in given.items() if k not in valid}
        if unknown:
            take_inert(f"{type(self).__name__}.deploy", unknown, {}, valid)  # raises, naming the closest

    def logs(self) -> None:
        """Print the latest job's logs, following them until it ends (SageMaker's ``estimator.logs()``)."""
        job = self._require_job()
        print_job_logs(self.sagemaker_session.client, job.name, follow=True)

    def final_metrics(self) -> dict[str, float]:
        """The last value of each metric (``FinalMetricDataList``) as a dict."""
        return {m["MetricName"]: m["Value"] for m in self._require_job().describe()["FinalMetricDataList"]}

    def closing_summary(self) -> list[str]:
        return closing_lines(self._require_job().describe())

    # -- attach ---------------------------------------------------------------------------------------

    @classmethod
    def attach(
        cls,
        training_job_name: str,
        sagemaker_session: Session | None = None,
        model_channel_name: str = "model",
    ) -> Estimator:
        """Rebuild the estimator of an existing job; its hyperparameters echo back verbatim."""
        session = sagemaker_session or Session()
        description = session.describe_training_job(training_job_name)
        estimator = cls.from_description(description, session)
        estimator.model_channel_name = model_channel_name
        estimator.latest_training_job = TrainingJobHandle(session, training_job_name)
        estimator._current_job_name = training_job_name
        return estimator

    @classmethod
    def from_description(cls, description: dict[str, Any], session: Session) -> Estimator:
        """An estimator with the settings of a training job (or a tuning job's training definition):
        its code is the uploaded ``sourcedir.tar.gz`` the job ran."""
        raw = description.get("HyperParameters") or description.get("StaticHyperParameters") or {}
        decoded = {k: decode_hyperparameter(v) for k, v in raw.items()}
        resources = description.get("ResourceConfig", {})
        checkpoint = description.get("CheckpointConfig") or {}
        estimator = cls.__new__(cls)
        estimator.sdk_arguments = dict(description.get("SdkArguments") or {})
        estimator.git_config = None
        estimator.entry_point = str(decoded.get("sagemaker_program", ""))
        submit = decoded.get("sagemaker_submit_directory")
        estimator.source_dir = str(submit) if submit else None
        estimator.uploaded_source = estimator.source_dir
        estimator.dependencies = []
        estimator._hyperparameters = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
        estimator.instance_count = int(resources.get("InstanceCount", 1))
        estimator.instance_type = str(resources.get("InstanceType", "local"))
        estimator.output_path = description.get("OutputDataConfig", {}).get("S3OutputPath")
        estimator.checkpoint_s3_uri = checkpoint.get("S3Uri")
        estimator.checkpoint_local_path = checkpoint.get("LocalPath")
        stopping = description.get("StoppingCondition", {})
        estimator.max_run = int(stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUN_SECONDS))
        estimator.max_wait = estimator.sdk_arguments.get("max_wait")
        estimator.use_spot_instances = bool(estimator.sdk_arguments.get("use_spot_instances", False))
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
        estimator.model_uri = None
        estimator.model_channel_name = "model"
        estimator.priority = description.get("Priority")
        estimator.latest_training_job = None
        estimator.tensorboard = None
        estimator._current_job_name = None
        return estimator
