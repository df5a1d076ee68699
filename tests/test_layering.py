"""Kiln's packages depend on each other one way, as docs/architecture.md draws them; a back edge fails.

The rule (DESIGN.md): ``cli`` → ``sdk`` → HTTP only; ``server`` → ``services`` → {``metadata``,
``artifacts``, ``executors``, ``scheduler``}; ``runtime`` → ``artifacts`` + HTTP; everything may use the
base modules (``errors``, ``config``, ``records``, ``machine``, ``codecs``, ``images``, ``hardening``);
nothing imports ``server``.
Imports are read from the source (function-local ones included; ``if TYPE_CHECKING:`` ones are not,
they never run). The SDK's own module order is pinned by ``test_dependency_order.py``; this test
pins the packages around it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

BASE = frozenset({"kiln", "errors", "config", "records", "machine", "codecs", "images", "hardening"})
STORES = frozenset({"metadata", "artifacts", "executors"})

# What each unit (a top-level module or package; runtime's two halves apart) may import.
ALLOWED: dict[str, frozenset[str]] = {
    "kiln": frozenset(),  # the package root: its version, and SDK names loaded on first use
    "errors": frozenset(),
    "records": frozenset(),
    "machine": frozenset(),
    "config": frozenset({"errors"}),
    "codecs": frozenset({"errors"}),
    "images": frozenset({"errors"}),  # SageMaker image URIs → framework and version
    "hardening": frozenset(),  # process hardening every Kiln process applies to itself
    "asgi_body": frozenset(),  # the one ASGI body reader (size limit, 413) of the server and instances
    # The built-in algorithms: training code Kiln ships, which the runtimes run and the control
    # plane and SDK look up (image → algorithm, metric names).
    "algorithms": frozenset({"errors", "images", "codecs"}),
    "metadata": BASE,
    "artifacts": BASE,
    "executors": BASE,
    "scheduler": BASE | {"metadata"},  # reservations are stored before they are acted on
    "services": BASE | STORES | {"scheduler", "algorithms"},
    "server": BASE | STORES | {"scheduler", "services", "asgi_body"},
    "runtime": BASE,  # the package itself; its two halves below
    "runtime.training": BASE | {"artifacts", "algorithms"},
    "runtime.serving": BASE | {"artifacts", "algorithms", "asgi_body"},
    "sdk": BASE | {"algorithms"},
    "serializers": BASE | {"sdk"},  # kiln.serializers / deserializers / tuner: SageMaker's import paths
    "deserializers": BASE | {"sdk"},
    "tuner": BASE | {"sdk"},
    "pytorch": BASE | {"sdk"},  # kiln.pytorch, kiln.tensorflow, …: SageMaker's framework import paths
    "tensorflow": BASE | {"sdk"},
    "sklearn": BASE | {"sdk"},
    "xgboost": BASE | {"sdk"},
    "processing": BASE | {"sdk"},  # kiln.processing: SageMaker's sagemaker.processing import path
    "estimator": BASE | {"sdk"},  # kiln.estimator, kiln.image_uris: SageMaker's import paths
    "image_uris": BASE | {"sdk"},
    "workflow": BASE | {"sdk"},  # kiln.workflow: SageMaker's sagemaker.workflow import path
    "cli": BASE | {"sdk"},
    "__main__": frozenset({"cli"}),
    "testing": BASE | STORES | {"scheduler"},
}

# The runtime modules the control plane shares with the processes it starts: the host's spec, the
# instance's socket frames, and helpers both sides run. Any other import of the runtime from services
# or server is a back edge.
SHARED_RUNTIME_MODULES = frozenset(
    {
        "kiln.runtime.training.spec",
        "kiln.runtime.training.outputs",
        "kiln.runtime.training.user_code",
        "kiln.runtime.training.library_check",
        "kiln.runtime.training.frameworks",
        "kiln.runtime.training.opt_ml_view",
        "kiln.runtime.serving.ipc",
        "kiln.runtime.serving.model_archive",
        "kiln.runtime.serving.model_folder",
    }
)
# The SDK tells an Estimator-functions entry point by the runtime's own AST rule (as
# test_dependency_order.py's SDK_MAY_USE says).
SDK_RUNTIME_MODULES = frozenset(
    {"kiln.runtime", "kiln.runtime.training", "kiln.runtime.training.estimator_functions"}
)
# `kiln server start` runs the server in the CLI's process: the one place that imports it.
SERVER_IMPORTERS = frozenset({"kiln.cli.server_commands"})


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")


def unit_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "kiln"
    if parts[1] == "runtime" and len(parts) > 2:
        return f"runtime.{parts[2]}"
    return parts[1]


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    return skipped


def imports_of(path: Path, *, module_level_only: bool = False) -> Iterator[str]:
    """The kiln modules ``path`` imports (``from pkg import sub`` names the submodule)."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_nodes(tree)
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    for node in nodes:
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{alias.name}" if _is_module(f"{node.module}.{alias.name}") else node.module
                for alias in node.names
            ]
        else:
            continue
        yield from (name for name in names if name == "kiln" or name.startswith("kiln."))


def _modules() -> list[tuple[str, Path]]:
    return sorted((_module_name(path), path) for path in (SRC / "kiln").rglob("*.py"))


def test_every_unit_of_the_package_has_a_place_in_the_layers() -> None:
    units = {unit_of(module) for module, _ in _modules()}

    assert units - ALLOWED.keys() == set(), "give a new package its row in ALLOWED (and the docs)"


def test_no_package_imports_one_above_it_or_beside_it_out_of_turn() -> None:
    back_edges: list[str] = []
    for module, path in _modules():
        source = unit_of(module)
        for target in imports_of(path):
            target_unit = unit_of(target)
            if target_unit == source or target_unit not in ALLOWED:
                continue
            # An instance on another node prepares its model with the helpers the server uses.
            if target in SHARED_RUNTIME_MODULES and source in ("services", "server", "runtime.serving"):
                continue
            if target in SDK_RUNTIME_MODULES and source == "sdk":
                continue
            if target_unit == "server" and module in SERVER_IMPORTERS:
                continue
            if target_unit not in ALLOWED.get(source, frozenset()):
                back_edges.append(f"{module} imports {target} ({source} → {target_unit})")

    assert back_edges == []


def test_nothing_imports_the_server_but_the_command_that_runs_it() -> None:
    importers = {
        module
        for module, path in _modules()
        if unit_of(module) != "server" and any(unit_of(t) == "server" for t in imports_of(path))
    }

    assert importers == SERVER_IMPORTERS


@pytest.mark.parametrize("module_level_only", [True, False], ids=["at-import", "anywhere"])
def test_there_is_no_import_cycle(module_level_only: bool) -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in _modules():
        graph[module].update(t for t in imports_of(path, module_level_only=module_level_only) if t != module)

    assert _cycles(graph) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The test above can fail: a two-module loop and a longer one are both reported.
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}}) == [
        ["a", "b"],
        ["c", "d", "e"],
    ]
