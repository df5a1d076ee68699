"""Kiln's SDK accepts every argument of SageMaker v2's signatures, read from the installed SDK.

SageMaker's SDK (the version pinned in ``sagemaker-v2-requirements.txt``) lives in a virtual
environment of its own, cached under ``$XDG_CACHE_HOME/kiln-tests`` (made on first use; CI makes it
too); a subprocess there prints each signature's parameter names. Each must be an argument Kiln's
counterpart takes or lists as inert (``kiln.sdk.arguments``); and every argument Kiln takes that
SageMaker does not must be one of Kiln's declared extras, so neither side drifts unnoticed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import kiln
from kiln import processing
from kiln.sdk import arguments as args
from kiln.sdk.estimator import Estimator
from kiln.sdk.framework import Framework
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.transformer import Transformer
from kiln.sklearn import SKLearn, SKLearnModel, SKLearnPredictor
from kiln.tensorflow import TensorFlow, TensorFlowModel, TensorFlowPredictor
from kiln.xgboost import XGBoost, XGBoostModel, XGBoostPredictor

REQUIREMENTS = Path(__file__).with_name("sagemaker-v2-requirements.txt")
PINNED = next(line for line in REQUIREMENTS.read_text().splitlines() if line.startswith("sagemaker=="))
INSTALL_TIMEOUT_SECONDS = 900

EST = "sagemaker.estimator:EstimatorBase.__init__"
FRAMEWORK = "sagemaker.estimator:Framework.__init__"
MODEL = "sagemaker.model:Model.__init__"
PYTORCH_MODEL = ["sagemaker.pytorch:PyTorchModel.__init__", "sagemaker.model:FrameworkModel.__init__", MODEL]
ESTIMATOR_DEPLOY = "sagemaker.estimator:EstimatorBase.deploy"
PREDICTOR = "sagemaker.predictor:Predictor.__init__"
FRAMEWORK_MODEL = ["sagemaker.model:FrameworkModel.__init__", MODEL]


FRAMEWORK_ESTIMATORS = [("tensorflow", TensorFlow), ("sklearn", SKLearn), ("xgboost", XGBoost)]
FRAMEWORK_MODELS = [("tensorflow", TensorFlowModel), ("sklearn", SKLearnModel), ("xgboost", XGBoostModel)]
FRAMEWORK_PREDICTORS = [
    ("tensorflow", TensorFlowPredictor),
    ("sklearn", SKLearnPredictor),
    ("xgboost", XGBoostPredictor),
]


@dataclass(frozen=True)
class Case:
    """Kiln's callables and inert names, and the SageMaker signatures whose arguments reach the same
    place (a subclass hands ``**kwargs`` to its base, so SageMaker takes the union)."""

    kiln: list[Callable[..., Any]]
    inert: Mapping[str, Any]
    sagemaker: list[str]
    extras: frozenset[str] = frozenset()  # what Kiln takes beyond SageMaker, on purpose


# Kiln's Estimator is script mode (SageMaker's generic one needs an image); the 2018 tutorial's
# arguments; the order among jobs waiting for capacity.
ESTIMATOR_EXTRAS = frozenset(
    {"framework_version", "py_version", "distribution", "training_steps", "evaluation_steps", "priority"}
)
CASES = {
    "Estimator": Case(
        args.init_chain(Estimator),
        args.inert_for_class(Estimator),
        ["sagemaker.estimator:Estimator.__init__", EST],
        ESTIMATOR_EXTRAS,
    ),
    "Framework": Case(
        args.init_chain(Framework), args.inert_for_class(Framework), [FRAMEWORK, EST], ESTIMATOR_EXTRAS
    ),
    "PyTorch": Case(
        args.init_chain(kiln.PyTorch),
        args.inert_for_class(kiln.PyTorch),
        ["sagemaker.pytorch:PyTorch.__init__", FRAMEWORK, EST],
        ESTIMATOR_EXTRAS - {"framework_version", "py_version", "distribution"},
    ),
    # SageMaker 1.x's TensorBoard for TensorFlow jobs, here for any job.
    "Estimator.fit": Case(
        [Estimator.fit],
        args.FIT_INERT,
        ["sagemaker.estimator:EstimatorBase.fit"],
        frozenset({"run_tensorboard_locally"}),
    ),
    "Estimator.deploy": Case([Estimator.deploy], args.DEPLOY_INERT, [ESTIMATOR_DEPLOY]),
    # create_model hands its **kwargs to the model class, in SageMaker as in Kiln.
    "PyTorch.create_model": Case(
        [kiln.PyTorch.create_model, *args.init_chain(kiln.PyTorchModel)],
        {**args.CREATE_MODEL_INERT, **args.inert_for_class(kiln.PyTorchModel)},
        ["sagemaker.pytorch:PyTorch.create_model", *PYTORCH_MODEL],
        frozenset({"framework"}),
    ),
    "Model": Case(
        args.init_chain(Model),
        args.inert_for_class(Model),
        [MODEL],
        frozenset({"framework", "framework_version", "py_version"}),
    ),
    "PyTorchModel": Case(
        args.init_chain(kiln.PyTorchModel),
        args.inert_for_class(kiln.PyTorchModel),
        PYTORCH_MODEL,
        frozenset({"framework"}),
    ),
    # One variant's name and weight, for A/B endpoint configs.
    "Model.deploy": Case(
        [Model.deploy],
        args.MODEL_DEPLOY_INERT,
        ["sagemaker.model:Model.deploy"],
        frozenset({"variant_name", "initial_weight"}),
    ),
    "HyperparameterTuner": Case(
        [kiln.HyperparameterTuner.__init__],
        args.TUNER_INERT,
        ["sagemaker.tuner:HyperparameterTuner.__init__"],
    ),
    "HyperparameterTuner.fit": Case(
        [kiln.HyperparameterTuner.fit], args.TUNER_FIT_INERT, ["sagemaker.tuner:HyperparameterTuner.fit"]
    ),
    # The tuner hands its deploy's keyword arguments to the best estimator's deploy.
    "HyperparameterTuner.deploy": Case(
        [kiln.HyperparameterTuner.deploy, Estimator.deploy],
        args.DEPLOY_INERT,
        ["sagemaker.tuner:HyperparameterTuner.deploy", ESTIMATOR_DEPLOY],
    ),
    "Predictor": Case([Predictor.__init__], args.PREDICTOR_INERT, [PREDICTOR]),
    "PyTorchPredictor": Case(
        args.init_chain(kiln.PyTorchPredictor),
        args.PREDICTOR_INERT,
        ["sagemaker.pytorch:PyTorchPredictor.__init__", PREDICTOR],
    ),
    **{
        f"{estimator.__name__}": Case(
            args.init_chain(estimator),
            args.inert_for_class(estimator),
            [f"sagemaker.{module}:{estimator.__name__}.__init__", FRAMEWORK, EST],
            # SKLearn and XGBoost take no distribution in SageMaker; Kiln's Estimator does (unused there).
            ESTIMATOR_EXTRAS - {"framework_version", "py_version"},
        )
        for module, estimator in FRAMEWORK_ESTIMATORS
    },
    **{
        f"{model.__name__}": Case(
            args.init_chain(model),
            args.inert_for_class(model),
            [f"sagemaker.{module}:{model.__name__}.__init__", *FRAMEWORK_MODEL],
            frozenset({"framework", "py_version"}),
        )
        for module, model in FRAMEWORK_MODELS
    },
    **{
        f"{predictor.__name__}": Case(
            args.init_chain(predictor),
            args.PREDICTOR_INERT,
            [f"sagemaker.{module}:{predictor.__name__}.__init__", PREDICTOR],
        )
        for module, predictor in FRAMEWORK_PREDICTORS
    },
    "Transformer": Case([Transformer.__init__], {}, ["sagemaker.transformer:Transformer.__init__"]),
    "Transformer.transform": Case(
        [Transformer.transform], {}, ["sagemaker.transformer:Transformer.transform"]
    ),
    "Model.transformer": Case([Model.transformer], {}, ["sagemaker.model:Model.transformer"]),
    # entry_point: SageMaker's Framework.transformer takes it; Kiln's Estimator is script mode.
    "Estimator.transformer": Case(
        [Estimator.transformer], {}, ["sagemaker.estimator:Estimator.transformer"], frozenset({"entry_point"})
    ),
}
# Processing: each Kiln class spells out SageMaker's own signature (no **kwargs to a base).
PROCESSING = "sagemaker.processing"
CASES.update(
    {
        f"{cls.__name__}{'.' + method if method != '__init__' else ''}": Case(
            [getattr(cls, method)], {}, [f"{module}:{cls.__name__}.{method}"]
        )
        for cls, module, method in [
            (processing.Processor, PROCESSING, "__init__"),
            (processing.Processor, PROCESSING, "run"),
            (processing.ScriptProcessor, PROCESSING, "__init__"),
            (processing.ScriptProcessor, PROCESSING, "run"),
            (processing.FrameworkProcessor, PROCESSING, "__init__"),
            (processing.FrameworkProcessor, PROCESSING, "run"),
            (processing.SKLearnProcessor, "sagemaker.sklearn.processing", "__init__"),
            (processing.ProcessingInput, PROCESSING, "__init__"),
            (processing.ProcessingOutput, PROCESSING, "__init__"),
            (processing.ProcessingJob, PROCESSING, "__init__"),
            (processing.ProcessingJob, PROCESSING, "wait"),
        ]
    }
)
PRINT_SIGNATURES = """
import importlib, inspect, json, sys
found = {}
for target in json.loads(sys.argv[1]):
    module, _, path = target.partition(":")
    obj = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    found[target] = [
        p.name for p in inspect.signature(obj).parameters.values()
        if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self"
    ]
print(json.dumps(found))
"""


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kiln-tests"


@pytest.fixture(scope="session")
def sagemaker_python() -> Path:
    """The interpreter of a venv with the pinned SageMaker SDK, made once and reused."""
    venv = _cache_root() / PINNED.replace("==", "-")
    python = venv / "bin" / "python"
    if not python.exists():
        partial = venv.with_name(f"{venv.name}.partial-{os.getpid()}")
        subprocess.run([sys.executable, "-m", "venv", str(partial)], check=True)
        subprocess.run(
            [
                str(partial / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
        try:
            os.replace(partial, venv)  # atomic: a concurrent run sees no half-made venv
        except OSError:
            pass  # another run finished first; use its venv
    return python


@pytest.fixture(scope="session")
def sagemaker_signatures(sagemaker_python: Path) -> dict[str, list[str]]:
    env = dict(os.environ, SAGEMAKER_SUPPRESS_V2_WARNING="1", PYTHONPATH="")
    result = subprocess.run(
        [
            str(sagemaker_python),
            "-c",
            PRINT_SIGNATURES,
            json.dumps(sorted({t for case in CASES.values() for t in case.sagemaker})),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    found: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


def _sagemaker_names(case: Case, signatures: dict[str, list[str]]) -> set[str]:
    return {name for target in case.sagemaker for name in signatures[target]}


@pytest.mark.timeout(INSTALL_TIMEOUT_SECONDS + 300)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kiln_accepts_every_argument_of_sagemakers_signature(
    case: str, sagemaker_signatures: dict[str, list[str]]
) -> None:
    spec = CASES[case]
    missing = sorted(
        _sagemaker_names(spec, sagemaker_signatures) - args.accepted_names(spec.kiln, spec.inert)
    )
    assert missing == [], f"{case}: SageMaker v2 takes {missing}; act on them or list them as inert"


@pytest.mark.timeout(INSTALL_TIMEOUT_SECONDS + 300)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_argument_kiln_takes_beyond_sagemakers_is_a_declared_extra(
    case: str, sagemaker_signatures: dict[str, list[str]]
) -> None:
    spec = CASES[case]
    extra = args.accepted_names(spec.kiln, spec.inert) - _sagemaker_names(spec, sagemaker_signatures)
    undeclared = sorted(extra - spec.extras)
    assert undeclared == [], f"{case}: Kiln takes {undeclared}, which SageMaker v2 does not"
