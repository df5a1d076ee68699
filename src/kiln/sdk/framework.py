"""``Framework``: the base of the framework estimators (``kiln.PyTorch``, …), SageMaker's rule included.

SageMaker's framework estimators build their model with ``create_model()`` from the same
``entry_point``, ``source_dir`` and ``dependencies`` as training, with ``SAGEMAKER_PROGRAM`` naming the
entry point, so a script that defines ``model_fn`` / ``input_fn`` / ``predict_fn`` beside its training
code serves with them. ``deploy(entry_point=…, source_dir=…)`` overrides the code, as SageMaker allows.
An Estimator-functions entry point is the exception: its export carries its own ``code/inference.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from kiln.runtime.training.estimator_functions import defines_estimator_functions
from kiln.sdk.estimator import Estimator
from kiln.sdk.model import Model
from kiln.sdk.predictor import Predictor
from kiln.sdk.source_code import is_uri, resolve_entry_point

__all__ = ["Framework"]


class Framework(Estimator):
    """A script-mode estimator whose training script is also its inference script."""

    framework_name: ClassVar[str] = "custom"
    inert_arguments: ClassVar[dict[str, Any]] = {}

    def _serves_training_script(self) -> bool:
        if is_uri(self.source_dir):  # attached: the job's own code; its entry point decides at serving
            return True
        path, _ = resolve_entry_point(self.entry_point, self.source_dir)
        return not defines_estimator_functions(Path(path))

    def create_model(
        self,
        entry_point: str | None = None,
        source_dir: str | None = None,
        dependencies: list[str] | None = None,
        role: str | None = None,
        name: str | None = None,
        model_server_workers: int | None = None,
        predictor_cls: type[Predictor] | None = None,
        **kwargs: Any,
    ) -> Model:
        """The trained model with this estimator's code as its inference code (or the code given).

        Without overrides the model uses the ``sourcedir.tar.gz`` the job trained with, so it serves
        exactly that code; an ``entry_point`` alone is looked up in the training ``source_dir``.
        """
        if entry_point is None and source_dir is None:
            if self._serves_training_script() and self.uploaded_source is not None:
                source_dir = self.uploaded_source  # exactly the code the job ran
                entry_point = (
                    self.entry_point
                    if is_uri(self.source_dir)
                    else resolve_entry_point(self.entry_point, self.source_dir)[1]
                )
            elif self._serves_training_script():
                entry_point, source_dir = self.entry_point, self.source_dir
        elif source_dir is None:
            source_dir = self.source_dir
        if dependencies is None and not is_uri(source_dir):
            dependencies = self.dependencies
        env = dict(kwargs.pop("env", None) or {})
        if model_server_workers is not None:
            env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(model_server_workers)
        if predictor_cls is not None:
            kwargs["predictor_cls"] = predictor_cls
        return super().create_model(
            entry_point=entry_point,
            source_dir=source_dir,
            dependencies=dependencies,
            role=role,
            name=name,
            env=env,
            **kwargs,
        )
