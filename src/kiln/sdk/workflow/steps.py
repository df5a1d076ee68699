"""Pipeline steps (``sagemaker.workflow.steps``, ``condition_step``, ``fail_step``, ``model_step``).

A job step's arguments are the request the SDK's own estimator, processor, tuner or model builds
(``build_*_request``), less the job's name: the server names each execution's job.
"""

from __future__ import annotations

import abc
from typing import Any

from kiln.errors import ValidationError
from kiln.sdk.estimator import Estimator
from kiln.sdk.model import Model
from kiln.sdk.processing import ProcessingInput, ProcessingOutput, Processor
from kiln.sdk.transformer import Transformer
from kiln.sdk.tuner import HyperparameterTuner
from kiln.sdk.workflow.conditions import Condition
from kiln.sdk.workflow.entities import to_definition
from kiln.sdk.workflow.functions import Join
from kiln.sdk.workflow.properties import Properties, PropertyFile

__all__ = [
    "CacheConfig",
    "ConditionStep",
    "CreateModelStep",
    "FailStep",
    "ModelStep",
    "ProcessingStep",
    "Step",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
]


class CacheConfig:
    def __init__(self, enable_caching: bool = False, expire_after: str | None = None) -> None:
        self.enable_caching = enable_caching
        self.expire_after = expire_after

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"Enabled": self.enable_caching}
        if self.expire_after is not None:
            config["ExpireAfter"] = self.expire_after
        return config


class Step(abc.ABC):
    step_type = ""

    def __init__(
        self,
        name: str,
        display_name: str | None = None,
        description: str | None = None,
        depends_on: list[Any] | None = None,
        retry_policies: list[Any] | None = None,
        cache_config: CacheConfig | None = None,
    ) -> None:
        self.name = name
        self.display_name = display_name
        self.description = description
        self.depends_on = list(depends_on or [])
        self.retry_policies = list(retry_policies or [])
        self.cache_config = cache_config
        self.properties = Properties(f"Steps.{name}")

    @property
    @abc.abstractmethod
    def arguments(self) -> dict[str, Any]:
        """The step's Create* request, as the pipeline definition writes it."""

    def to_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "Name": self.name,
            "Type": self.step_type,
            "Arguments": to_definition(self.arguments),
        }
        if self.depends_on:
            request["DependsOn"] = [getattr(d, "name", d) for d in self.depends_on]
        if self.display_name:
            request["DisplayName"] = self.display_name
        if self.description:
            request["Description"] = self.description
        if self.cache_config is not None:
            request["CacheConfig"] = self.cache_config.config
        if self.retry_policies:
            request["RetryPolicies"] = [p.to_request() for p in self.retry_policies]
        return request


def _without(request: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in names}


def _step_args(step_args: Any, kind: str) -> dict[str, Any]:
    if not isinstance(step_args, dict):
        raise ValidationError(
            f"step_args must be the {kind} request (e.g. estimator.build_training_request(inputs)); got "
            f"{type(step_args).__name__}"
        )
    return step_args


class TrainingStep(Step):
    step_type = "Training"

    def __init__(
        self,
        name: str,
        estimator: Estimator | None = None,
        inputs: Any = None,
        step_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if (estimator is None) == (step_args is None):
            raise ValidationError(f"TrainingStep {name!r} needs either estimator (with inputs) or step_args")
        self._request = (
            _step_args(step_args, "CreateTrainingJob")
            if step_args is not None
            else estimator.build_training_request(inputs)  # type: ignore[union-attr]
        )

    @property
    def arguments(self) -> dict[str, Any]:
        return _without(self._request, "TrainingJobName", "Tags")


class ProcessingStep(Step):
    step_type = "Processing"

    def __init__(
        self,
        name: str,
        processor: Processor | None = None,
        inputs: list[ProcessingInput] | None = None,
        outputs: list[ProcessingOutput] | None = None,
        job_arguments: list[Any] | None = None,
        code: str | None = None,
        property_files: list[PropertyFile] | None = None,
        step_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if (processor is None) == (step_args is None):
            raise ValidationError(f"ProcessingStep {name!r} needs either processor (with code) or step_args")
        self.property_files = list(property_files or [])
        if step_args is not None:
            self._request = _step_args(step_args, "CreateProcessingJob")
        else:
            assert processor is not None
            self._request = processor.build_processing_request(inputs, outputs, job_arguments, code=code)

    @property
    def arguments(self) -> dict[str, Any]:
        return _without(self._request, "ProcessingJobName", "ExperimentConfig")

    def to_request(self) -> dict[str, Any]:
        request = super().to_request()
        if self.property_files:
            request["PropertyFiles"] = [f.to_request() for f in self.property_files]
        return request


class TuningStep(Step):
    step_type = "Tuning"

    def __init__(
        self,
        name: str,
        tuner: HyperparameterTuner | None = None,
        inputs: Any = None,
        step_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        if (tuner is None) == (step_args is None):
            raise ValidationError(f"TuningStep {name!r} needs either tuner (with inputs) or step_args")
        self._request = (
            _step_args(step_args, "CreateHyperParameterTuningJob")
            if step_args is not None
            else tuner.build_tuning_request(inputs)  # type: ignore[union-attr]
        )

    @property
    def arguments(self) -> dict[str, Any]:
        return _without(self._request, "HyperParameterTuningJobName", "Tags")

    def get_top_model_s3_uri(self, top_k: int, s3_bucket: str, prefix: str = "") -> Join:
        """Where the k-th best training job's model.tar.gz is (SageMaker's helper)."""
        root = f"{s3_bucket.rstrip('/')}/{prefix.strip('/')}" if prefix else s3_bucket.rstrip("/")
        job = self.properties.TrainingJobSummaries[top_k].TrainingJobName
        return Join("/", [root, job, "output/model.tar.gz"])


class TransformStep(Step):
    step_type = "Transform"

    def __init__(
        self,
        name: str,
        transformer: Transformer | None = None,
        inputs: Any = None,
        step_args: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """``inputs``: the data (a URI, or a reference such as a step's output), or SageMaker's
        ``TransformInput``-like dict of ``transform()``'s arguments (``data``, ``content_type``, …)."""
        super().__init__(name, **kwargs)
        if (transformer is None) == (step_args is None):
            raise ValidationError(
                f"TransformStep {name!r} needs either transformer (with inputs) or step_args"
            )
        if step_args is not None:
            self._request = _step_args(step_args, "CreateTransformJob")
        else:
            assert transformer is not None
            arguments = inputs if isinstance(inputs, dict) else {"data": inputs}
            self._request = transformer.build_transform_request(**arguments)

    @property
    def arguments(self) -> dict[str, Any]:
        return _without(self._request, "TransformJobName", "Tags")


class CreateModelStep(Step):
    """A model (CreateModel) from ``model``; its name is the server's, per execution."""

    step_type = "Model"

    def __init__(
        self, name: str, model: Model | None = None, step_args: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, **kwargs)
        if (model is None) == (step_args is None):
            raise ValidationError(f"{type(self).__name__} {name!r} needs either model or step_args")
        self._request = (
            _step_args(step_args, "CreateModel") if step_args is not None else model.build_model_request()  # type: ignore[union-attr]
        )

    @property
    def arguments(self) -> dict[str, Any]:
        return _without(self._request, "ModelName", "Tags")


class ModelStep(CreateModelStep):
    """SageMaker's ``ModelStep(name, step_args=model.create())``: here ``step_args`` is the CreateModel
    request (``model.build_model_request()``) or ``model=`` the model itself."""


class FailStep(Step):
    step_type = "Fail"

    def __init__(self, name: str, error_message: Any = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.error_message = "" if error_message is None else error_message

    @property
    def arguments(self) -> dict[str, Any]:
        return {"ErrorMessage": self.error_message}


class ConditionStep(Step):
    step_type = "Condition"

    def __init__(
        self,
        name: str,
        conditions: list[Condition],
        if_steps: list[Step] | None = None,
        else_steps: list[Step] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, **kwargs)
        self.conditions = list(conditions)
        self.if_steps = list(if_steps or [])
        self.else_steps = list(else_steps or [])

    @property
    def arguments(self) -> dict[str, Any]:
        return {
            "Conditions": [c.to_request() for c in self.conditions],
            "IfSteps": [s.to_request() for s in self.if_steps],
            "ElseSteps": [s.to_request() for s in self.else_steps],
        }
