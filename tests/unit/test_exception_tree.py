"""Every exception the pipeline package defines is a `PipelineError` (the one tree).

Callers handle the pipeline's errors with `except PipelineError` (the CLI turns one into a
message and exit code 1), so a class outside the tree escapes as a traceback. The test
imports every module of the package and checks every exception class defined there.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import pipeline
from pipeline.errors import PipelineError


def pipeline_modules() -> list[str]:
    names = [pipeline.__name__]
    for info in pkgutil.walk_packages(pipeline.__path__, prefix="pipeline."):
        names.append(info.name)
    return sorted(names)


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    """The exception classes `module` defines (not those it imports)."""
    module_name = module.__name__
    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module_name
    ]


def test_the_walk_finds_the_modules_and_their_exceptions():
    names = pipeline_modules()
    assert {"pipeline.errors", "pipeline.ingest.base", "pipeline.domain.errors"} <= set(names)
    assert PipelineError in exception_classes(importlib.import_module("pipeline.errors"))


def outside_tree(module: ModuleType) -> list[str]:
    return [c.__qualname__ for c in exception_classes(module) if not issubclass(c, PipelineError)]


@pytest.mark.parametrize("module_name", pipeline_modules())
def test_module_exceptions_are_pipeline_errors(module_name: str):
    outside = outside_tree(importlib.import_module(module_name))
    assert outside == [], f"{module_name} defines exceptions outside PipelineError: {outside}"


def test_the_check_names_a_class_outside_the_tree_and_ignores_imported_ones():
    module = ModuleType("pipeline.fake")
    exec(
        "from pipeline.errors import ConfigError\n"
        "class Stray(ValueError): pass\n"
        "class Kept(ConfigError): pass\n",
        module.__dict__,
    )
    assert outside_tree(module) == ["Stray"]
    assert [c.__name__ for c in exception_classes(module)] == ["Stray", "Kept"]
