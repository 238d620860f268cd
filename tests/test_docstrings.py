"""Every public function, class and method has a numpydoc docstring with its Parameters and Returns."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import coverage_planner

# The checks that matter to a reader: a docstring, a summary, every parameter named and described, a Returns section.
CODES = ("GL08", "SS01", "PR01", "PR02", "PR07", "RT01")


def public_objects() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(coverage_planner.__path__, "coverage_planner."):
        if info.name.endswith(".cli"):  # typer commands: their docstrings are the CLI's help text
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            names.append(f"{module.__name__}.{name}")
            if inspect.isclass(obj):
                names += [
                    f"{module.__name__}.{name}.{member}"
                    for member, value in vars(obj).items()
                    if not member.startswith("_")
                    and (inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)))
                ]
    return sorted(names)


def test_every_public_function_has_a_numpydoc_docstring():
    validate = pytest.importorskip("numpydoc.validate").validate
    problems = [
        f"{name}: {code} {message}"
        for name in public_objects()
        for code, message in validate(name)["errors"]
        if code in CODES
    ]
    assert problems == []
