"""``Framework``: the base of the framework estimators (``kiln.PyTorch``, …), SageMaker's rule included.

SageMaker's framework estimators build their model with ``create_model()`` from the same
``entry_point``, ``source_dir`` and ``dependencies`` as training, with ``SAGEMAKER_PROGRAM`` naming the
entry point, so a script that defines ``model_fn`` / ``input_fn`` / ``predict_fn`` beside its training
code serves with them. ``deploy(entry_point=…, source_dir=…)`` overrides the code, as SageMaker allows.
An Estimator-functions entry point is the exception: its export carries its own ``code/inference.py``.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
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
        """False for an Estimator-functions entry point (its export carries the inference code)."""
        if not is_uri(self.source_dir):
            path, _ = resolve_entry_point(self.entry_point, self.source_dir)
            return not defines_estimator_functions(Path(path))
        # An attached job: its entry point is read from the uploaded code (a small archive).
        archive = self.sagemaker_session.read_artifact(str(self.source_dir))
        with tempfile.TemporaryDirectory() as folder:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                try:
                    member = tar.getmember(self.entry_point)
                except KeyError:
                    return True  # not in the archive: serving will say so, with the archive's contents
                tar.extract(member, folder, filter="data")
            return not defines_estimator_functions(Path(folder) / self.entry_point)

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
        if entry_point is None and source_dir is None and self._serves_training_script():
            if self.uploaded_source is not None:  # exactly the code the job ran
                source_dir = self.uploaded_source
                entry_point = (
                    self.entry_point
                    if is_uri(self.source_dir)
                    else resolve_entry_point(self.entry_point, self.source_dir)[1]
                )
            else:
                entry_point, source_dir = self.entry_point, self.source_dir
        elif entry_point is not None and source_dir is None:
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
