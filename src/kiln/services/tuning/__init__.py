"""Hyperparameter tuning: a request checked into a ``TuningConfig`` (``config``), its Optuna study
(``study``) and sampler (``sampler``), trials as training jobs (``trials``), the engine that steps a
job forward (``engine``) and the use-cases the server calls (``jobs``)."""

from kiln.services.tuning.config import TuningConfig, parse_tuning_request
from kiln.services.tuning.jobs import TuningJobOverview, TuningJobService

__all__ = ["TuningConfig", "TuningJobOverview", "TuningJobService", "parse_tuning_request"]
