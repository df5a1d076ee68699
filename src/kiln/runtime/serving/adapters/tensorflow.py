"""TensorFlow SavedModels, served with TF Serving's REST semantics in this process (no TF Serving binary).

SageMaker's TensorFlow Serving container finds every ``saved_model.pb`` under the model directory
whose folder is a version number: ``model.tar.gz`` holds ``<version>/`` (the model is then named
``model``), ``<name>/<version>/`` for several models, or the legacy ``export/Servo/<version>/``. The
default model is ``SAGEMAKER_TFS_DEFAULT_MODEL_NAME``, else the first found; ``tfs-model-name`` and
``tfs-model-version`` in the custom attributes choose another. Versions load on first use.

Requests follow ``tensorflow_requests``; answers are TF Serving's: row format ``{"predictions": …}``
(a list of values for a one-output signature, a list of ``{output: value}`` objects otherwise),
columnar ``{"outputs": …}``. Requests in row format for the default model and signature with one
input become an ndarray, so that Kiln's dynamic batching can merge them as for PyTorch. Bodies in
Kiln's array types (NPY, TensorProto) are the default signature's one input, answered in the
negotiated type.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kiln import codecs
from kiln.codecs import content_types
from kiln.errors import NotFound, ValidationError
from kiln.runtime.serving.adapters._base import (
    FrameworkAdapter,
    ModelLoadError,
    ShapeReporter,
    decode_array,
)
from kiln.runtime.serving.adapters.tensorflow_requests import (
    DEFAULT_SIGNATURE,
    TfsRequest,
    check_json_like,
    parse_custom_attributes,
    parse_tfs_body,
    rewrite_to_tfs_json,
)

__all__ = ["SavedModels", "TensorFlowAdapter", "TfsResult", "find_saved_models", "tfs_json"]

_VERSION = re.compile(r"^\d+$")


def find_saved_models(model_dir: Path) -> dict[str, dict[int, Path]]:
    """``{model name: {version: folder}}`` for every SavedModel under ``model_dir``, as the container
    finds them (``code/`` is inference code, never a model)."""
    models: dict[str, dict[int, Path]] = {}
    for pb in sorted(model_dir.rglob("saved_model.pb")):
        version_dir = pb.parent
        if not _VERSION.match(version_dir.name) or "code" in version_dir.relative_to(model_dir).parts[:1]:
            continue
        base = version_dir.parent
        name = "model" if base == model_dir else base.name
        models.setdefault(name, {})[int(version_dir.name)] = version_dir
    return models


@dataclass(frozen=True)
class TfsResult:
    """A predict answer before encoding: the signature's outputs and the request's format."""

    outputs: dict[str, Any]
    columnar: bool


class SavedModels:
    """The archive's SavedModels by name and version, each loaded on first use."""

    def __init__(self, tf: Any, found: dict[str, dict[int, Path]]) -> None:
        self._tf = tf
        self._found = found
        requested = os.environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME", "None")
        self.default_name = requested if requested != "None" else next(iter(found))
        if self.default_name not in found:
            raise ModelLoadError(
                f"SAGEMAKER_TFS_DEFAULT_MODEL_NAME={requested}, but the archive's models are "
                f"{', '.join(found)}; set it to one of them."
            )
        self._loaded: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()  # a REST handler thread may load beside the model worker

    def names(self) -> list[str]:
        return list(self._found)

    def signature(self, name: str | None, version: str | None, signature_name: str) -> Any:
        model = self._model(name or self.default_name, version)
        signatures = model.signatures
        if signature_name not in signatures:
            raise ValidationError(
                f"Serving signature name: '{signature_name}' not found in signature def; the model has "
                f"{', '.join(sorted(signatures)) or 'none'}."
            )
        return signatures[signature_name]

    def _model(self, name: str, version: str | None) -> Any:
        versions = self._found.get(name)
        if versions is None:
            raise NotFound(
                f"Servable not found for request: tfs-model-name={name}; this endpoint's models are "
                f"{', '.join(self._found)}."
            )
        number = max(versions) if version is None else int(version) if version.isdigit() else -1
        if number not in versions:
            raise NotFound(
                f"Servable not found for request: {name} version {version}; it has versions "
                f"{', '.join(map(str, sorted(versions)))}."
            )
        with self._lock:
            key = (name, number)
            if key not in self._loaded:
                self._loaded[key] = self._tf.saved_model.load(str(versions[number]))
            return self._loaded[key]


def _signature_inputs(fn: Any) -> dict[str, Any]:
    """The signature's inputs, name → TensorSpec."""
    return dict(fn.structured_input_signature[1])


class TensorFlowAdapter(FrameworkAdapter):
    name = "tensorflow"

    def __init__(self) -> None:
        self.models: SavedModels | None = None
        self._fast_input: tuple[str, Any] | None = None  # (name, numpy dtype) of the default input

    def load(self, model_dir: Path, files: list[Path]) -> Any | None:
        found = find_saved_models(model_dir)
        if not found:
            return None
        try:
            tf = importlib.import_module("tensorflow")
        except ImportError as e:
            raise ModelLoadError(
                f"The model is a TensorFlow SavedModel ({', '.join(found)}) but TensorFlow is not "
                "installed where the endpoint runs; pip install 'kiln[tensorflow]'."
            ) from e
        self.models = SavedModels(tf, found)
        try:
            default = self.models.signature(None, None, DEFAULT_SIGNATURE)
        except ValidationError:
            default = None
        if default is not None:
            inputs = _signature_inputs(default)
            if len(inputs) == 1:
                name, spec = next(iter(inputs.items()))
                self._fast_input = (name, spec.dtype.as_numpy_dtype)
        return self.models

    def owns(self, model: Any) -> bool:
        return isinstance(model, SavedModels)

    def decode(self, inv: Any) -> None:
        inv.data, inv.tfs = self.request_from_body(inv.body, inv.content_type, inv.custom_attributes)

    def request_from_body(self, body: bytes, content_type: str, custom_attributes: str | None) -> Any:
        """``(the model input, whether it is TF Serving-shaped)`` for one request body."""
        check_json_like(content_type)
        attributes = parse_custom_attributes(custom_attributes)
        text = rewrite_to_tfs_json(body, content_type)
        if text is None:  # NPY, TensorProto, NPZ: the default signature's one input
            data, _ = decode_array(body, content_type, self._fast_input[1] if self._fast_input else None)
            name, version = attributes.get("tfs-model-name"), attributes.get("tfs-model-version")
            request = TfsRequest(name, version, DEFAULT_SIGNATURE, False, data)
            return (data if self._is_default(request) else request), False
        return self.simplify(parse_tfs_body(text, attributes)), True

    def simplify(self, request: TfsRequest) -> Any:
        """An ndarray for a request the batcher may merge, else the request itself."""
        if self._fast_input is None or request.columnar or not self._is_default(request):
            return request
        if isinstance(request.inputs, list) and request.inputs and isinstance(request.inputs[0], dict):
            return request
        try:
            return np.asarray(request.inputs, dtype=self._fast_input[1])
        except (ValueError, TypeError):
            return request  # let the model's own check report the problem

    def _is_default(self, request: TfsRequest) -> bool:
        assert self.models is not None
        return (
            request.model_name in (None, self.models.default_name)
            and request.version is None
            and request.signature_name == DEFAULT_SIGNATURE
        )

    def predictor(self, model: Any, as_numpy: bool) -> Callable[[Any], Any]:
        return _SavedModelPredictor(model, self._fast_input)

    def encode(self, prediction: Any, inv: Any) -> bytes:
        if isinstance(prediction, TfsResult):
            return codecs.encode(tfs_json(prediction), content_types.JSON)
        if inv.tfs:
            outputs = prediction if isinstance(prediction, dict) else {"output": prediction}
            return codecs.encode(tfs_json(TfsResult(outputs, False)), content_types.JSON)
        return codecs.encode(prediction, inv.response_type)


def tfs_json(result: TfsResult) -> dict[str, Any]:
    """TF Serving's answer: ``{"predictions": …}`` by rows or ``{"outputs": …}`` by columns."""
    outputs = {name: _jsonable(value) for name, value in result.outputs.items()}
    if result.columnar:
        return {"outputs": next(iter(outputs.values())) if len(outputs) == 1 else outputs}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    names = list(outputs)
    rows = len(outputs[names[0]])
    return {"predictions": [{name: outputs[name][i] for name in names} for i in range(rows)]}


def _jsonable(value: Any) -> Any:
    array = np.asarray(value)
    if array.dtype.kind in "SO":  # tf.string outputs
        return np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else b)(
            array
        ).tolist()
    return array.tolist()


class _SavedModelPredictor(ShapeReporter):
    def __init__(self, models: SavedModels, fast_input: tuple[str, Any] | None) -> None:
        super().__init__()
        self._models = models
        self._fast_input = fast_input
        self._tf = importlib.import_module("tensorflow")

    def __call__(self, data: Any) -> Any:
        if isinstance(data, TfsRequest):
            return self.run(data)
        assert self._fast_input is not None, "ndarrays come only for a one-input default signature"
        fn = self._models.signature(None, None, DEFAULT_SIGNATURE)
        outputs = self._call(fn, {self._fast_input[0]: data}, data)
        return next(iter(outputs.values())) if len(outputs) == 1 else outputs

    def run(self, request: TfsRequest) -> TfsResult:
        fn = self._models.signature(request.model_name, request.version, request.signature_name)
        specs = _signature_inputs(fn)
        named = _named_inputs(request, specs)
        return TfsResult(self._call(fn, named, request.inputs), request.columnar)

    def _call(self, fn: Any, named: dict[str, Any], shown: Any) -> dict[str, Any]:
        specs = _signature_inputs(fn)
        try:
            tensors = {k: self._tf.constant(v, dtype=specs[k].dtype) for k, v in named.items()}
            outputs = fn(**tensors)
        except (ValueError, TypeError, self._tf.errors.InvalidArgumentError) as e:
            raise self.rejected(np.asarray(shown) if isinstance(shown, list) else shown, e) from e
        self.accepted(shown)
        return {name: tensor.numpy() for name, tensor in outputs.items()}


def _named_inputs(request: TfsRequest, specs: dict[str, Any]) -> dict[str, Any]:
    """The request's inputs by the signature's input names (TF Serving's row and columnar rules)."""
    inputs = request.inputs
    if request.columnar:
        if isinstance(inputs, dict):
            return _check_names(inputs, specs)
        return {_only_input(specs): inputs}
    if not isinstance(inputs, list):
        raise ValidationError('"instances" must be a list, one entry per instance.')
    if inputs and isinstance(inputs[0], dict):
        names = set(inputs[0])
        if any(set(row) != names for row in inputs if isinstance(row, dict)):
            raise ValidationError("Every instance must name the same inputs.")
        return _check_names({name: [row[name] for row in inputs] for name in names}, specs)
    return {_only_input(specs): inputs}


def _only_input(specs: dict[str, Any]) -> str:
    if len(specs) != 1:
        raise ValidationError(
            f"The signature has {len(specs)} inputs ({', '.join(sorted(specs))}); name them: "
            '{"instances": [{"<input>": …}, …]} or {"inputs": {"<input>": …}}.'
        )
    return next(iter(specs))


def _check_names(named: dict[str, Any], specs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(named) - set(specs))
    missing = sorted(set(specs) - set(named))
    if unknown or missing:
        raise ValidationError(
            f"The inputs do not match the signature (unknown: {', '.join(unknown) or 'none'}; missing: "
            f"{', '.join(missing) or 'none'}); its inputs are {', '.join(sorted(specs))}."
        )
    return named
