"""``Model``: model data plus inference code, deployable to an endpoint (SageMaker's ``sagemaker.Model``).

With an ``entry_point`` the code is uploaded beside the model as ``sourcedir.tar.gz`` and named by
``SAGEMAKER_SUBMIT_DIRECTORY`` instead of being repacked into model.tar.gz: a large model is never
downloaded, re-tarred and uploaded again just to add a script (a long-standing SageMaker complaint).
A ``source_dir`` that is already an uploaded ``sourcedir.tar.gz`` URI (a training job's code) is used
as it is.
"""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.errors import NotFound, ValidationError
from kiln.sdk.arguments import (
    MODEL_DEPLOY_INERT,
    MODEL_INERT,
    accepted_names,
    inert_for_class,
    init_chain,
    take_inert,
)
from kiln.sdk.naming import base_from_name, name_from_base
from kiln.sdk.predictor import Predictor
from kiln.sdk.session import Session
from kiln.sdk.source_code import is_uri, pack_source, resolve_entry_point
from kiln.sdk.transformer import Transformer
from kiln.sdk.waiters import WAITERS

__all__ = ["Model"]


class Model:
    """Model data (a model.tar.gz URI), inference code, or both; ``deploy()`` serves it."""

    framework: ClassVar[str | None] = None
    # The framework's inference image repository: with a framework_version the model names its image
    # (as SageMaker's SDK does), so the server serves it with the version it was trained with.
    image_repository: ClassVar[str | None] = None
    default_base_name: ClassVar[str] = "model"
    predictor_class: ClassVar[type[Predictor]] = Predictor
    inert_arguments: ClassVar[dict[str, Any]] = dict(MODEL_INERT)

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
        container_log_level: int = 20,
        **kwargs: Any,
    ) -> None:
        self.sdk_arguments = take_inert(
            type(self).__name__,
            kwargs,
            inert_for_class(type(self)),
            accepted_names(init_chain(type(self)), ()),
        )
        if model_data is None and entry_point is None:
            raise ValidationError("a Model needs model_data (a model.tar.gz URI), an entry_point, or both")
        if entry_point is not None and not is_uri(source_dir):
            resolve_entry_point(entry_point, source_dir)
        self.model_data = model_data
        self.image_uri = image_uri
        self.role = role
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.dependencies = list(dependencies or [])
        self.framework_name = framework or self.framework
        self.framework_version = framework_version
        self.py_version = py_version
        self.env = dict(env or {})
        self.name = name
        self.predictor_cls = predictor_cls or self.predictor_class
        self.sagemaker_session = sagemaker_session or Session()
        self.container_log_level = container_log_level
        self.endpoint_name: str | None = None
        self.tags: list[dict[str, str]] = []

    def _code_environment(self, model_name: str) -> dict[str, str]:
        """SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY for the entry point (uploading it if local)."""
        if self.entry_point is None:
            return {}
        if is_uri(self.source_dir):
            code_uri, program = str(self.source_dir), self.entry_point
        else:
            session = self.sagemaker_session
            code_uri = f"{session.bucket_uri()}/{model_name}/sourcedir.tar.gz"
            session.upload_bytes(pack_source(self.entry_point, self.source_dir, self.dependencies), code_uri)
            _, program = resolve_entry_point(self.entry_point, self.source_dir)
        return {
            "SAGEMAKER_PROGRAM": program,
            "SAGEMAKER_SUBMIT_DIRECTORY": code_uri,
            "SAGEMAKER_CONTAINER_LOG_LEVEL": str(self.container_log_level),
            "SAGEMAKER_REGION": "local",
        }

    def _container(self, model_name: str) -> dict[str, Any]:
        env = {**self._code_environment(model_name), **self.env}
        container: dict[str, Any] = {"Environment": env}
        if self.model_data:
            container["ModelDataUrl"] = self.model_data
        if self.framework_name:
            container["Framework"] = self.framework_name
        if self.image_uri:
            container["Image"] = self.image_uri
        elif self.image_repository and self.framework_version:
            tag = f"{self.framework_version}-cpu-{self.py_version or 'py3'}"
            container["Image"] = f"{self.image_repository}:{tag}"
        return container

    def build_model_request(self, name: str | None = None) -> dict[str, Any]:
        """The CreateModel request ``create`` sends, without sending it (inference code is uploaded):
        what a pipeline's ModelStep carries."""
        name = name or self.name or name_from_base(self.default_base_name)
        request: dict[str, Any] = {"ModelName": name, "PrimaryContainer": self._container(name)}
        if self.role:
            request["ExecutionRoleArn"] = self.role
        if self.tags:
            request["Tags"] = self.tags
        if self.sdk_arguments:
            request["SdkArguments"] = self.sdk_arguments
        return request

    def create(self) -> str:
        """Register the model (CreateModel) under its name, or a fresh one; returns the name."""
        request = self.build_model_request()
        self.sagemaker_session.client.create_model(request)
        self.name = str(request["ModelName"])
        return self.name

    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        tags: list[dict[str, str]] | None = None,
        wait: bool = True,
        variant_name: str = "AllTraffic",
        initial_weight: float = 1.0,
        **kwargs: Any,
    ) -> Predictor:
        """CreateModel (unless it exists), CreateEndpointConfig (variant ``AllTraffic``) and CreateEndpoint,
        both named ``endpoint_name`` or fresh from the model's name; waits for InService."""
        kept = take_inert(
            f"{type(self).__name__}.deploy", kwargs, MODEL_DEPLOY_INERT, accepted_names([Model.deploy], ())
        )
        self.sdk_arguments.update(kept)
        if tags:
            self.tags = list(tags)
        if self.name is None or not self._exists(self.name):
            self.create()
        model_name = str(self.name)
        name = endpoint_name or name_from_base(base_from_name(model_name))
        client = self.sagemaker_session.client
        client.create_endpoint_config(
            {
                "EndpointConfigName": name,
                "ProductionVariants": [
                    {
                        "VariantName": variant_name,
                        "ModelName": model_name,
                        "InitialInstanceCount": initial_instance_count or 1,
                        "InstanceType": instance_type or "local",
                        "InitialVariantWeight": initial_weight,
                    }
                ],
            }
        )
        client.create_endpoint(name, name)
        self.endpoint_name = name
        if wait:
            WAITERS["EndpointInService"].wait(client, name)
        return self.predictor_cls(
            name, self.sagemaker_session, serializer=serializer, deserializer=deserializer
        )

    def _exists(self, name: str) -> bool:
        try:
            self.sagemaker_session.client.describe_model(name)
        except NotFound:
            return False
        return True

    def delete_model(self) -> None:
        if self.name is None:
            raise ValidationError("this model was never created; there is nothing to delete")
        self.sagemaker_session.client.delete_model(self.name)

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
        volume_kms_key: str | None = None,
    ) -> Transformer:
        """A ``Transformer`` for this model, registered first if it is not yet (SageMaker's
        ``Model.transformer``)."""
        if self.name is None or not self._exists(self.name):
            self.create()
        assert self.name is not None
        return Transformer(
            self.name,
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            output_kms_key=output_kms_key,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            tags=tags,
            env=env,
            sagemaker_session=self.sagemaker_session,
            volume_kms_key=volume_kms_key,
        )
