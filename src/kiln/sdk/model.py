"""``Model``: model data plus inference code, deployable to an endpoint (SageMaker's ``sagemaker.Model``).

With an ``entry_point`` the code is uploaded beside the model as ``sourcedir.tar.gz`` and named by
``SAGEMAKER_SUBMIT_DIRECTORY`` instead of being repacked into model.tar.gz: a large model is never
downloaded, re-tarred and uploaded again just to add a script (a long-standing SageMaker complaint).
"""

from __future__ import annotations

import time
from typing import Any

from kiln.errors import UnexpectedStatusException, ValidationError
from kiln.sdk.estimator import default_job_name
from kiln.sdk.predictor import Predictor, PyTorchPredictor
from kiln.sdk.session import Session
from kiln.sdk.source_code import pack_source, resolve_entry_point

__all__ = ["Model", "PyTorchModel", "wait_for_endpoint"]

WAIT_POLL_SECONDS = 0.2


def wait_for_endpoint(session: Session, name: str) -> dict[str, Any]:
    """Block until the endpoint leaves Creating/Updating; raise if it Failed."""
    while True:
        description = session.client.describe_endpoint(name)
        status = description["EndpointStatus"]
        if status == "InService":
            return description
        if status == "Failed":
            raise UnexpectedStatusException(
                f"Error hosting endpoint {name}: Failed. Reason: {description.get('FailureReason', '')}",
                allowed_statuses=("InService",),
                actual_status=status,
            )
        time.sleep(WAIT_POLL_SECONDS)


class Model:
    framework: str | None = None
    predictor_class: type[Predictor] = Predictor

    def __init__(
        self,
        model_data: str | None = None,
        image_uri: str | None = None,
        role: str | None = None,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        framework: str | None = None,
        framework_version: str | None = None,
        py_version: str | None = None,
        env: dict[str, str] | None = None,
        name: str | None = None,
        predictor_cls: type[Predictor] | None = None,
        sagemaker_session: Session | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise ValidationError(f"Model got unknown arguments: {', '.join(sorted(kwargs))}")
        if model_data is None and entry_point is None:
            raise ValidationError("a Model needs model_data (a model.tar.gz URI), an entry_point, or both")
        if entry_point is not None:
            resolve_entry_point(entry_point, source_dir)
        self.model_data = model_data
        self.image_uri = image_uri
        self.role = role
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = list(dependencies or [])
        self.framework = framework or self.framework
        self.framework_version = framework_version
        self.py_version = py_version
        self.env = dict(env or {})
        self.name = name
        self.predictor_cls = predictor_cls or self.predictor_class
        self.sagemaker_session = sagemaker_session or Session()
        self.endpoint_name: str | None = None

    def _container(self, model_name: str) -> dict[str, Any]:
        env = dict(self.env)
        if self.entry_point is not None:
            session = self.sagemaker_session
            code_uri = f"{session.bucket_uri()}/{model_name}/sourcedir.tar.gz"
            session.upload_bytes(pack_source(self.entry_point, self.source_dir, self.dependencies), code_uri)
            _, program = resolve_entry_point(self.entry_point, self.source_dir)
            env.update({"SAGEMAKER_PROGRAM": program, "SAGEMAKER_SUBMIT_DIRECTORY": code_uri})
        container: dict[str, Any] = {"Environment": env}
        if self.model_data:
            container["ModelDataUrl"] = self.model_data
        if self.framework:
            container["Framework"] = self.framework
        if self.image_uri:
            container["Image"] = self.image_uri
        return container

    def create(self) -> str:
        """Register the model (CreateModel); returns its name."""
        name = self.name or default_job_name(self.framework or "model")
        request: dict[str, Any] = {"ModelName": name, "PrimaryContainer": self._container(name)}
        if self.role:
            request["ExecutionRoleArn"] = self.role
        self.sagemaker_session.client.create_model(request)
        self.name = name
        return name

    def deploy(
        self,
        initial_instance_count: int = 1,
        instance_type: str = "local",
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        wait: bool = True,
        variant_name: str = "AllTraffic",
        initial_weight: float = 1.0,
        **_ignored: Any,  # accelerator_type, tags, kms_key, data_capture_config, …
    ) -> Predictor:
        """CreateModel, CreateEndpointConfig (variant ``AllTraffic``), CreateEndpoint; waits for InService."""
        model_name = self.name or self.create()
        if self.name is None:
            self.name = model_name
        elif not self._exists(model_name):
            self.create()
        name = endpoint_name or model_name  # SageMaker names the endpoint after its model by default
        client = self.sagemaker_session.client
        client.create_endpoint_config(
            {
                "EndpointConfigName": name,
                "ProductionVariants": [
                    {
                        "VariantName": variant_name,
                        "ModelName": model_name,
                        "InitialInstanceCount": initial_instance_count,
                        "InstanceType": instance_type,
                        "InitialVariantWeight": initial_weight,
                    }
                ],
            }
        )
        client.create_endpoint(name, name)
        self.endpoint_name = name
        if wait:
            wait_for_endpoint(self.sagemaker_session, name)
        return self.predictor_cls(
            name, self.sagemaker_session, serializer=serializer, deserializer=deserializer
        )

    def _exists(self, name: str) -> bool:
        try:
            self.sagemaker_session.client.describe_model(name)
            return True
        except Exception:
            return False

    def delete_model(self) -> None:
        if self.name is None:
            raise ValidationError("this model was never created; there is nothing to delete")
        self.sagemaker_session.client.delete_model(self.name)


class PyTorchModel(Model):
    framework = "pytorch"
    predictor_class = PyTorchPredictor
