"""``kiln.estimator``, importable as ``sagemaker.estimator`` is: ``Estimator`` (see ``kiln.sdk.estimator``).

``Estimator(image_uri=<a built-in algorithm's image>, ...)`` with no entry point runs the algorithm.
"""

from __future__ import annotations

import kiln.sdk.algorithm_estimator  # noqa: F401  (registers the built-in algorithms' estimator)
from kiln.sdk.estimator import Estimator

__all__ = ["Estimator"]
