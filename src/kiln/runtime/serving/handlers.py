"""SageMaker's inference handler chain: the user's ``code/inference.py`` over Kiln's defaults.

The module is ``$SAGEMAKER_PROGRAM`` (default ``inference.py``) in ``<model_dir>/code``. It may define
``model_fn(model_dir)``, ``input_fn(body, content_type)``, ``predict_fn(data, model)`` and
``output_fn(prediction, accept)`` (bytes, or ``(bytes, content_type)``), or instead
``transform_fn(model, body, content_type, accept)``; each may take one extra trailing ``context``.
Whatever it leaves out comes from ``default_handlers``. Mistakes in the module (both styles at once,
a function with the wrong number of arguments) are found when the model loads, with a message that
shows the right usage, rather than on the first request.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from kiln import codecs
from kiln.codecs import limits
from kiln.runtime.serving.adapters import FrameworkAdapter, GenericAdapter
from kiln.runtime.serving.adapters.tensorflow_handlers import tensorflow_hooks
from kiln.runtime.serving.default_handlers import (
    ModelLoadError,
    default_predictor,
    load_model_and_adapter,
    model_adapter,
    tensor_converter,
)
from kiln.runtime.serving.invocation import InferenceContext, Invocation, Reply
from kiln.runtime.serving.response_limit import check_prediction_fits, within_limit
from kiln.runtime.serving.settings import BatchingMode, ServingSettings

__all__ = ["HandlerChain", "UserFunction", "load_handler_chain"]

# name → (arguments before the optional context, how a correct definition reads)
SIGNATURES: dict[str, tuple[int, str]] = {
    "model_fn": (1, "def model_fn(model_dir, context=None)"),
    "input_fn": (2, "def input_fn(request_body, request_content_type, context=None)"),
    "predict_fn": (2, "def predict_fn(input_data, model, context=None)"),
    "output_fn": (2, "def output_fn(prediction, accept, context=None)"),
    "transform_fn": (4, "def transform_fn(model, request_body, content_type, accept, context=None)"),
}
_CHAIN_FUNCTIONS = ("input_fn", "predict_fn", "output_fn")


@dataclass(frozen=True)
class UserFunction:
    """A handler from the user's module, called with or without ``context`` as its signature asks."""

    fn: Callable[..., Any]
    takes_context: bool

    def __call__(self, *args: Any, context: InferenceContext) -> Any:
        return self.fn(*args, context) if self.takes_context else self.fn(*args)


@dataclass
class HandlerChain:
    """The loaded model and the functions that serve it, user-defined or default."""

    model: Any
    model_dir: Path
    source: str  # what serves requests, for logs and /stats
    settings: ServingSettings
    input_fn: UserFunction | None = None  # None: Kiln's default (runs on the event loop)
    predict_fn: UserFunction | None = None
    output_fn: UserFunction | None = None
    transform_fn: UserFunction | None = None
    default_predict: Callable[[Any], Any] | None = None
    to_tensor: Callable[[Any], Any] | None = None  # for a user's predict_fn fed by Kiln's input_fn
    framework: str = "custom"
    adapter: FrameworkAdapter = field(default_factory=GenericAdapter)  # decodes and encodes by default
    batchable: bool = False  # the predict step may run on requests stacked into one batch

    def prepare(self, inv: Invocation) -> None:
        """The request work done on the event loop: Kiln's own decoding and Accept negotiation.

        Raises ``UnsupportedMediaType``/``ValidationError`` so a bad request is answered before it
        ever queues for the model.
        """
        if self.transform_fn is None and self.output_fn is None:
            supported = self.adapter.response_types or codecs.SUPPORTED_RESPONSE_TYPES
            inv.response_type = codecs.negotiate_accept(
                inv.accept, supported, default=self.settings.default_accept
            )
        if self.transform_fn is None and self.input_fn is None:
            self.adapter.decode(inv)

    def decode(self, inv: Invocation) -> None:
        """Run the user's ``input_fn`` (worker thread; only called when the module defines one)."""
        assert self.input_fn is not None
        inv.data = self.input_fn(inv.body, inv.content_type, context=inv.context)

    def predict(self, data: Any, inv: Invocation) -> Any:
        if self.predict_fn is not None:
            if self.to_tensor is not None:
                data = self.to_tensor(data)
            return self.predict_fn(data, self.model, context=inv.context)
        assert self.default_predict is not None
        return self.default_predict(data)

    def encode(self, inv: Invocation, prediction: Any) -> Reply:
        limit = self.settings.max_response_bytes
        if self.output_fn is None:
            check_prediction_fits(prediction, inv.response_type, limit)
            return within_limit(Reply(200, self.adapter.encode(prediction, inv), inv.response_type), limit)
        result = self.output_fn(prediction, inv.accept, context=inv.context)
        return within_limit(_as_reply(result, inv.accept, "output_fn"), limit)

    def transform(self, inv: Invocation) -> Reply:
        assert self.transform_fn is not None
        result = self.transform_fn(self.model, inv.body, inv.content_type, inv.accept, context=inv.context)
        return within_limit(_as_reply(result, inv.accept, "transform_fn"), self.settings.max_response_bytes)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "framework": self.framework, "batchable": self.batchable}


def load_handler_chain(model_dir: Path, settings: ServingSettings) -> HandlerChain:
    """Import the user's module (if any), validate it, and run ``model_fn``.

    Raises ``ModelLoadError`` for a module that is missing or misdefined; whatever ``model_fn`` itself
    raises propagates unchanged, so the caller can report the user's own exception and traceback.
    """
    limits.configure(settings.max_decoded_bytes)  # every decoder in this instance, Kiln's or the adapters'
    module = _import_user_module(model_dir, settings)
    functions = _validated_functions(module, settings.program) if module is not None else {}
    context = InferenceContext(str(model_dir))
    model_fn = functions.get("model_fn")
    adapter: FrameworkAdapter | None
    if model_fn:
        model = model_fn(str(model_dir), context=context)
        adapter = model_adapter(model)
    else:
        model, adapter = load_model_and_adapter(model_dir)
    hooks = tensorflow_hooks(module, adapter, settings.program) if module is not None else None
    for name, fn in (hooks or {}).items():
        functions[name] = UserFunction(fn, takes_context=True)

    chain = HandlerChain(
        model=model,
        model_dir=model_dir,
        source=f"code/{settings.program}" if module is not None else "default handlers",
        settings=settings,
        input_fn=functions.get("input_fn"),
        predict_fn=functions.get("predict_fn"),
        output_fn=functions.get("output_fn"),
        transform_fn=functions.get("transform_fn"),
    )
    if adapter is not None:
        chain.adapter = adapter
        chain.framework = adapter.name
    if chain.transform_fn is None and chain.predict_fn is None:
        chain.default_predict = default_predictor(model, adapter, as_numpy=chain.output_fn is None)
    elif chain.predict_fn is not None and chain.input_fn is None and chain.framework == "pytorch":
        chain.to_tensor = tensor_converter(model)
    declared = getattr(module, "batchable", None)
    if declared is not None and not isinstance(declared, bool):
        raise ModelLoadError(f"code/{settings.program} sets batchable = {declared!r}; use True or False.")
    chain.batchable = _batching_allowed(chain, declared, settings.batching)
    return chain


def _batching_allowed(chain: HandlerChain, declared: bool | None, mode: BatchingMode) -> bool:
    if mode is BatchingMode.OFF or chain.transform_fn is not None or declared is False:
        return False
    if chain.predict_fn is None or declared:
        return True  # Kiln's own predict_fn, or the user vouches for theirs; calibration still checks
    return mode is BatchingMode.ON


SDK_V3_PICKLE = "serve.pkl"  # SageMaker SDK v3 ModelBuilder's pickled InferenceSpec (or model) and schema
SDK_V3_HANDLER = (
    "code/{program} is SageMaker Python SDK v3 ModelBuilder's handler for an InferenceSpec or a pickled "
    "model (code/serve.pkl): it imports the sagemaker package, and Kiln serves models in its own "
    "environment, which does not have it (Kiln runs no containers). Serve the model with model_fn / "
    "input_fn / predict_fn / output_fn in code/inference.py (sagemaker-core's repack_model and "
    "Model.create), or with the default handlers (a TorchScript model.pth, no InferenceSpec)."
)


def _import_user_module(model_dir: Path, settings: ServingSettings) -> ModuleType | None:
    code_dir = model_dir / "code"
    path = code_dir / settings.program
    if not path.is_file():
        if settings.program_explicit:
            # SageMaker's inference toolkit serves with its default handlers when the module is not
            # found (``find_spec`` is None), and code written for it relies on that (SDK v3's
            # ModelBuilder from a ModelTrainer sets SAGEMAKER_PROGRAM without shipping the module);
            # Kiln does the same, and says so in the endpoint's log.
            print(
                f"Kiln: SAGEMAKER_PROGRAM={settings.program} but there is no code/{settings.program} in "
                "the model: serving with the default handlers, as SageMaker's inference toolkit does; "
                "put the handler module in model.tar.gz under code/ to use your own.",
                file=sys.stderr,
                flush=True,
            )
        return None
    # Like SageMaker, put code/ on sys.path so the module can import its sibling files.
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"code/{settings.program} cannot be imported as a Python module.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)  # errors propagate: the user's own traceback is the best report
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] == "sagemaker" and (code_dir / SDK_V3_PICKLE).is_file():
            raise ModelLoadError(SDK_V3_HANDLER.format(program=settings.program)) from e
        raise
    return module


def _validated_functions(module: ModuleType, program: str) -> dict[str, UserFunction]:
    found: dict[str, UserFunction] = {}
    for name, (arity, usage) in SIGNATURES.items():
        fn = getattr(module, name, None)
        if fn is None:
            continue
        if not callable(fn):
            raise ModelLoadError(f"code/{program} sets {name} to a {type(fn).__name__}; define {usage}.")
        found[name] = UserFunction(fn, _takes_context(fn, name, arity, usage, program))
    mixed = [name for name in _CHAIN_FUNCTIONS if name in found]
    if "transform_fn" in found and mixed:
        raise ModelLoadError(
            f"code/{program} defines transform_fn together with {', '.join(mixed)}; define either "
            "transform_fn(model, request_body, content_type, accept) alone, or any of "
            "input_fn(request_body, content_type), predict_fn(input_data, model) and "
            "output_fn(prediction, accept) without transform_fn."
        )
    return found


def _takes_context(fn: Callable[..., Any], name: str, arity: int, usage: str, program: str) -> bool:
    """Whether ``fn`` wants the trailing ``context`` (SageMaker inspects arity the same way)."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False  # a builtin or C callable: call it with the plain arguments
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return len(required) <= arity + 1
    if len(required) <= arity + 1 and len(positional) == arity + 1:
        return True
    if len(required) <= arity <= len(positional):
        return False
    raise ModelLoadError(
        f"code/{program}: {name} takes {len(positional)} argument(s) but is called with {arity} "
        f"(or {arity + 1} with context); define it as {usage}."
    )


def _as_reply(result: Any, accept: str, where: str) -> Reply:
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode("utf-8")
    if not isinstance(result, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"{where} returned a {type(result).__name__}; return bytes (or str), or (bytes, content_type)."
        )
    return Reply(200, bytes(result), str(content_type))
