"""``kiln.records`` is one import path over a package of domain modules: its ``__all__`` names every
public record of every module, and each module's ``__all__`` names what it defines."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import kiln.records


def _modules() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(kiln.records.__path__) if not m.name.startswith("_")]


def _defined(module_name: str) -> set[str]:
    module = importlib.import_module(f"kiln.records.{module_name}")
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        defined_here = getattr(value, "__module__", None) == module.__name__
        if (inspect.isclass(value) or inspect.isfunction(value)) and defined_here:
            names.add(name)
        elif name.isupper() or (inspect.isclass(value) and name in module.__all__):
            names.add(name)  # constants, and aliases such as TrainingJobStatus = JobStatus
    return names


def test_each_domain_module_exports_what_it_defines() -> None:
    assert {"training", "hosting", "tuning", "processing", "transform", "pipelines", "capacity"} <= set(
        _modules()
    )
    for name in _modules():
        module = importlib.import_module(f"kiln.records.{name}")
        assert set(module.__all__) == _defined(name), name


def test_the_package_re_exports_every_module_s_names() -> None:
    everything = {n for name in _modules() for n in importlib.import_module(f"kiln.records.{name}").__all__}
    assert set(kiln.records.__all__) == everything
    for name in kiln.records.__all__:
        assert getattr(kiln.records, name) is not None
