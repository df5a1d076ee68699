"""``Predictor``: real-time predictions from an endpoint (SageMaker's ``sagemaker.predictor.Predictor``)."""

from __future__ import annotations

import io
from typing import Any

from kiln.sdk.arguments import PREDICTOR_INERT, accepted_names, take_inert
from kiln.sdk.deserializers import BaseDeserializer, BytesDeserializer
from kiln.sdk.serializers import BaseSerializer, IdentitySerializer
from kiln.sdk.session import Session

__all__ = ["Predictor"]


class Predictor:
    """An endpoint's client: ``serializer`` encodes what ``predict`` is given, ``deserializer`` decodes
    the answer (SageMaker's defaults: bytes in, bytes out; framework predictors choose their own)."""

    def __init__(
        self,
        endpoint_name: str,
        sagemaker_session: Session | None = None,
        serializer: BaseSerializer | None = None,
        deserializer: BaseDeserializer | None = None,
        **kwargs: Any,
    ) -> None:
        self.sdk_arguments = take_inert(
            type(self).__name__, kwargs, PREDICTOR_INERT, accepted_names([Predictor.__init__], ())
        )
        self.endpoint_name = endpoint_name
        self.sagemaker_session = sagemaker_session or Session()
        self.serializer = serializer or self._default_serializer()
        self.deserializer = deserializer or self._default_deserializer()
        self.last_invoked_variant: str | None = None

    def _default_serializer(self) -> BaseSerializer:
        return IdentitySerializer()

    def _default_deserializer(self) -> BaseDeserializer:
        return BytesDeserializer()

    @property
    def endpoint(self) -> str:
        """The endpoint's name (SageMaker v1's attribute, used by the 2018 tutorial)."""
        return self.endpoint_name

    @property
    def content_type(self) -> str:
        return str(self.serializer.CONTENT_TYPE)

    @property
    def accept(self) -> tuple[str, ...]:
        return tuple(self.deserializer.ACCEPT)

    def predict(
        self,
        data: Any,
        initial_args: dict[str, str] | None = None,
        target_model: str | None = None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
        **_ignored: Any,
    ) -> Any:
        """Serialize ``data``, invoke the endpoint, deserialize the answer."""
        args = dict(initial_args or {})
        headers = {
            "Content-Type": args.get("ContentType", self.content_type),
            "Accept": args.get("Accept", ", ".join(self.accept)),
        }
        variant = target_variant or args.get("TargetVariant")
        if variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = variant
        attributes = custom_attributes or args.get("CustomAttributes")
        if attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        if inference_id:
            headers["X-Amzn-SageMaker-Inference-Id"] = inference_id
        body = self.serializer.serialize(data)
        response = self.sagemaker_session.client.invoke_endpoint(self.endpoint_name, body, headers)
        self.last_invoked_variant = response.headers.get("x-amzn-invoked-production-variant")
        content_type = response.headers.get("content-type", "application/octet-stream")
        return self.deserializer.deserialize(io.BytesIO(response.content), content_type)

    def delete_endpoint(self, delete_endpoint_config: bool = True) -> None:
        client = self.sagemaker_session.client
        config = client.describe_endpoint(self.endpoint_name)["EndpointConfigName"]
        client.delete_endpoint(self.endpoint_name)
        if delete_endpoint_config:
            client.delete_endpoint_config(config)

    def delete_model(self) -> None:
        """Delete the models behind the endpoint's configuration (SageMaker finds them the same way)."""
        client = self.sagemaker_session.client
        config = client.describe_endpoint_config(self._config_name())
        for name in {v["ModelName"] for v in config["ProductionVariants"]}:
            client.delete_model(name)

    def _config_name(self) -> str:
        try:
            return str(
                self.sagemaker_session.client.describe_endpoint(self.endpoint_name)["EndpointConfigName"]
            )
        except Exception:
            return self.endpoint_name  # deleted endpoint: Kiln names the config after it by default

    def update_endpoint_weights(self, weights: dict[str, float]) -> dict[str, Any]:
        desired = [{"VariantName": k, "DesiredWeight": v} for k, v in weights.items()]
        return self.sagemaker_session.client.update_endpoint_weights_and_capacities(
            self.endpoint_name, desired
        )
