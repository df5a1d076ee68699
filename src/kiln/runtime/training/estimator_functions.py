"""Recognising an Estimator-functions entry point (the 2018 tutorial's style) without importing it."""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["ESTIMATOR_METRIC_LINE", "defines_estimator_functions"]

REQUIRED = frozenset({"model_fn", "train_input_fn"})
# The trainer's evaluation line, as TensorFlow's Estimator printed it; every "name = value" on it is a metric.
ESTIMATOR_METRIC_LINE = "Saving dict for global step "


def defines_estimator_functions(path: Path) -> bool:
    """True when the file defines ``model_fn`` and ``train_input_fn`` at top level (and no ``__main__``
    block of its own, which would mean it is a script that merely shares the names)."""
    if path.suffix != ".py" or not path.is_file():
        return False
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return False
    names = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    runs_itself = any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test) for node in tree.body)
    return names >= REQUIRED and not runs_itself
