"""``input_handler`` / ``output_handler``: the TensorFlow Serving container's user hooks, in Kiln's chain.

In the container, ``code/inference.py`` may define ``input_handler(data, context)``, which turns the
request (``data`` is a readable stream) into a TF Serving JSON request body, and
``output_handler(response, context)``, which turns TF Serving's answer (a ``requests.Response``:
``status_code``, ``content``, ``text``, ``json()``) into ``(body, content_type)``. ``context`` is the
container's ``Context``: ``model_name``, ``model_version``, ``method``, ``rest_uri``, ``grpc_port``,
``channel``, ``custom_attributes``, ``request_content_type``, ``accept_header``, ``content_length``.

Or it may define ``handler(data, context)``, which posts to TF Serving itself (``context.rest_uri``)
and returns ``(body, content_type)``: Kiln then serves TF Serving's REST predict API on loopback for
it (``tensorflow_rest``). With the pair, Kiln calls TensorFlow in process and ``rest_uri`` is for
the record; a request the model rejects is answered with a 400 before ``output_handler`` runs (the
container would pass TF Serving's 400 to it).
"""

from __future__ import annotations

import io
import json
from typing import Any, NamedTuple

from kiln import codecs
from kiln.codecs import content_types
from kiln.runtime.serving.adapters._base import ModelLoadError
from kiln.runtime.serving.adapters.tensorflow import TensorFlowAdapter, TfsResult, tfs_json
from kiln.runtime.serving.adapters.tensorflow_requests import parse_custom_attributes, parse_tfs_body
from kiln.runtime.serving.adapters.tensorflow_rest import TfsRestServer

__all__ = ["TfsContext", "TfsResponse", "tensorflow_hooks"]

HOOKS = ("input_handler", "output_handler", "handler")


class TfsContext(NamedTuple):
    """The container's ``Context`` for one request."""

    model_name: str
    model_version: str | None
    method: str
    rest_uri: str
    grpc_port: int | None
    channel: Any
    custom_attributes: str | None
    request_content_type: str
    accept_header: str
    content_length: int


class TfsResponse:
    """What ``output_handler`` receives in place of TF Serving's HTTP response."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content
        self.headers = {"Content-Type": content_types.JSON}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.content)


def _context(context: Any, default_model: str, rest: TfsRestServer | None = None) -> TfsContext:
    attributes = parse_custom_attributes(context.custom_attributes)
    name = attributes.get("tfs-model-name", default_model)
    version = attributes.get("tfs-model-version")
    method = attributes.get("tfs-method", "predict")
    path = f"/v1/models/{name}" + (f"/versions/{version}" if version else "") + f":{method}"
    uri = rest.uri(name, version, method) if rest is not None else path
    return TfsContext(
        model_name=name,
        model_version=version,
        method=method,
        rest_uri=uri,
        grpc_port=None,
        channel=None,
        custom_attributes=context.custom_attributes,
        request_content_type=context.content_type or content_types.JSON,
        accept_header=context.accept or content_types.JSON,
        content_length=int(context.request_headers.get("content-length", 0) or 0),
    )


def tensorflow_hooks(module: Any, adapter: Any, program: str) -> dict[str, Any] | None:
    """The chain functions (``input_fn`` and ``output_fn``, or ``transform_fn`` for ``handler``)
    wrapping the module's TF Serving hooks, or None when it has none.

    Raises ``ModelLoadError`` for a module that cannot work: hooks without a SavedModel, only one of
    the pair, or hooks mixed with each other or with ``input_fn``/``output_fn``/``transform_fn``.
    """
    found = [name for name in HOOKS if callable(getattr(module, name, None))]
    if not found:
        return None
    if not isinstance(adapter, TensorFlowAdapter) or adapter.models is None:
        raise ModelLoadError(
            f"code/{program} defines {', '.join(found)}, TensorFlow Serving's hooks, but the model is not "
            "a TensorFlow SavedModel; define input_fn/predict_fn/output_fn instead."
        )
    chain_functions = ("input_fn", "predict_fn", "output_fn", "transform_fn")
    mixed = [name for name in chain_functions if hasattr(module, name)]
    if mixed:
        raise ModelLoadError(
            f"code/{program} defines {', '.join(found)} together with {', '.join(mixed)}; use TensorFlow "
            "Serving's hooks alone."
        )
    models = adapter.models
    if "handler" in found:
        if len(found) > 1:
            raise ModelLoadError(
                f"code/{program} defines handler together with {', '.join(found[:-1])}; the container "
                "uses handler alone when it is defined: remove one style."
            )
        return {"transform_fn": _handler_transform(module.handler, models, adapter)}
    if len(found) != 2:
        missing = "output_handler" if "input_handler" in found else "input_handler"
        raise ModelLoadError(
            f"code/{program} defines {found[0]} without {missing}; TensorFlow Serving uses them as a pair: "
            "define input_handler(data, context) and output_handler(response, context)."
        )
    input_handler, output_handler = module.input_handler, module.output_handler

    def input_fn(body: bytes, content_type: str, context: Any) -> Any:
        tfs_context = _context(context, models.default_name)
        request = input_handler(io.BytesIO(body), tfs_context)
        attributes = parse_custom_attributes(context.custom_attributes)
        return adapter.simplify(parse_tfs_body(request, attributes))

    def output_fn(prediction: Any, accept: str, context: Any) -> Any:
        result = prediction if isinstance(prediction, TfsResult) else _as_result(prediction)
        response = TfsResponse(200, codecs.encode(tfs_json(result), content_types.JSON))
        return output_handler(response, _context(context, models.default_name))

    return {"input_fn": input_fn, "output_fn": output_fn}


def _handler_transform(handler: Any, models: Any, adapter: TensorFlowAdapter) -> Any:
    """``handler(data, context)`` as a ``transform_fn``, with TF Serving's REST API on loopback."""
    rest = TfsRestServer(models, adapter.predictor(models, as_numpy=True).run)  # type: ignore[attr-defined]

    def transform_fn(model: Any, body: bytes, content_type: str, accept: str, context: Any) -> Any:
        return handler(io.BytesIO(body), _context(context, models.default_name, rest))

    return transform_fn


def _as_result(prediction: Any) -> TfsResult:
    outputs = prediction if isinstance(prediction, dict) else {"output": prediction}
    return TfsResult(outputs, False)
