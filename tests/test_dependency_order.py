"""Kiln's modules import one way: the SDK in the order below, and no import cycle anywhere in src/kiln.

Table-driven: ``SDK_ORDER`` lists the SDK's modules from the bottom up (a pattern ending in ``.*`` is a
whole subpackage at one level); a module may import only modules listed before it (or at its own
level, for a subpackage's siblings) and, outside the SDK, only what ``SDK_MAY_USE`` names. Imports
under ``if TYPE_CHECKING:`` are type-only and do not count; function-local imports do.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

SDK_ORDER = [
    "kiln.sdk",
    "kiln.sdk.reconnect",
    "kiln.sdk.client",
    "kiln.sdk.tuning_client",
    "kiln.sdk.naming",
    "kiln.sdk.image_uris",
    "kiln.sdk.arguments",
    "kiln.sdk.discovery",
    "kiln.sdk.serializers",
    "kiln.sdk.deserializers",
    "kiln.sdk.source_code",
    "kiln.sdk.git_source",
    "kiln.sdk.inputs",
    "kiln.sdk.tuning_parameters",
    "kiln.sdk.waiters",
    "kiln.sdk.job_logs",
    "kiln.sdk.tensorboard",
    "kiln.sdk.session",
    "kiln.sdk.predictor",
    "kiln.sdk.transformer",
    "kiln.sdk.model",
    "kiln.sdk.estimator",
    "kiln.sdk.algorithm_estimator",
    "kiln.sdk.amazon_estimators",
    "kiln.sdk.framework",
    "kiln.sdk.frameworks",
    "kiln.sdk.frameworks.*",
    "kiln.sdk.processing_job",
    "kiln.sdk.processing",
    "kiln.sdk.tuner_analytics",
    "kiln.sdk.tuner",
    "kiln.sdk.workflow",
    "kiln.sdk.workflow.entities",
    "kiln.sdk.workflow.parameters",
    "kiln.sdk.workflow.execution_variables",
    "kiln.sdk.workflow.properties",
    "kiln.sdk.workflow.functions",
    "kiln.sdk.workflow.conditions",
    "kiln.sdk.workflow.retry",
    "kiln.sdk.workflow.steps",
    "kiln.sdk.workflow.pipeline",
]
# What the SDK may use outside itself: it talks to the server over HTTP only.
SDK_MAY_USE = [
    "kiln",
    "kiln.errors",
    "kiln.config",
    "kiln.codecs",
    "kiln.codecs.*",
    "kiln.runtime",  # the package docstring only, on the way to:
    "kiln.runtime.training",
    "kiln.runtime.training.estimator_functions",  # the one AST rule telling an Estimator-functions script
    "kiln.images",  # image URIs name the built-in algorithms (no server code)
    "kiln.algorithms",  # their registry (which image is which algorithm)
    "kiln.algorithms.recordio",  # record_set() writes SageMaker's RecordIO-protobuf
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name | ast.Attribute) and ast.unparse(node.test).endswith(
        "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                yield from _import_nodes(child)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        yield from _import_nodes(node)


def kiln_imports(path: Path, modules: set[str]) -> set[str]:
    """The kiln modules ``path`` imports at run time (``from kiln.x import y`` counts kiln.x.y if it
    is a module, else kiln.x)."""
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "kiln")
        elif node.module and node.level == 0 and node.module.split(".")[0] == "kiln":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules else node.module)
    if path.is_relative_to(SRC):
        found.discard(module_name(path))
    return found


@functools.cache
def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in (SRC / "kiln").rglob("*.py")}


def _level(module: str) -> int | None:
    for index, pattern in enumerate(SDK_ORDER):
        if module == pattern or fnmatch(module, pattern):
            return index
    return None


def test_every_sdk_module_has_a_place_in_the_order() -> None:
    unplaced = [m for m in all_modules() if m.startswith("kiln.sdk") and _level(m) is None]
    assert unplaced == [], f"add these to SDK_ORDER at their level: {unplaced}"


@pytest.mark.parametrize("module", sorted(m for m in all_modules() if m.startswith("kiln.sdk")))
def test_sdk_modules_import_only_what_comes_before_them(module: str) -> None:
    modules = all_modules()
    level = _level(module)
    assert level is not None
    for imported in sorted(kiln_imports(modules[module], set(modules))):
        if imported.startswith("kiln.sdk"):
            target = _level(imported)
            assert target is not None, f"{module} imports {imported}, which has no place in SDK_ORDER"
            assert target <= level, (
                f"{module} imports {imported}, which comes after it in SDK_ORDER: a back edge"
            )
            if target == level:
                assert SDK_ORDER[level].endswith(".*"), f"{module} imports {imported}, at its own level"
        else:
            assert any(imported == p or fnmatch(imported, p) for p in SDK_MAY_USE), (
                f"{module} imports {imported}; the SDK may use only {SDK_MAY_USE}"
            )


def test_there_is_no_import_cycle_in_src_kiln() -> None:
    modules = all_modules()
    graph = {name: kiln_imports(path, set(modules)) & set(modules) for name, path in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == [], "import cycles:\n" + "\n".join(" → ".join(c) for c in cycles)


def test_the_checker_counts_function_local_imports_and_skips_type_only_ones(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kiln.sdk.tuner import HyperparameterTuner\n"
        "def f():\n    from kiln.sdk import model\n    return model\n"
    )
    assert kiln_imports(probe, set(all_modules())) == {"kiln.sdk.model"}


@pytest.mark.parametrize("module", sorted(m for m in all_modules() if m.startswith("kiln.sdk")))
def test_sdk_modules_import_at_the_top_only(module: str) -> None:
    """A function-local import hides a dependency (it is how the old SDK circle was papered over)."""
    tree = ast.parse(all_modules()[module].read_text())
    hidden = [
        f"line {node.lineno}"
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert hidden == [], f"{module} imports inside a function at {', '.join(hidden)}"
