"""The package as a codebase: its import name, its layers, its public surface."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import coverage_planner as cp

PACKAGE = Path(cp.__file__).resolve().parent

# The data flow, lowest first: a module may import from its own layer and the layers below it.
LAYERS = [
    {"_errors", "_io", "_timing", "_workers", "_geo", "_osmnx", "_cache", "_meta", "escape", "settings", "profiles"},
    {"places"},  # place files and Chinese coordinate systems (road files in GCJ-02 need the latter)
    {"network"},
    {"access"},
    {"results", "analysis"},
    {"outputs", "diff"},
    {"plan"},  # a Proposal writes its own map and report
    {"config", "pipeline", "check", "batch", "demo", "cli", "cli_text", "__init__"},
]
LAYER_OF = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def package_modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name (``coverage_planner.access.matrix``), parsed."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return modules


def imports_of(name: str, tree: ast.Module) -> list[tuple[str, str, int]]:
    """(imported module, imported name or "", line) for every import in the module, lazy ones included."""
    is_package = (PACKAGE.parent / Path(*name.split("."))).is_dir()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, "", node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(module, alias.name, node.lineno) for alias in node.names]
    return [f for f in found if f[0] == "coverage_planner" or f[0].startswith("coverage_planner.")]


def group_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_no_module_imports_another_modules_private_name():
    offences = []
    for name, tree in package_modules().items():
        for module, imported, line in imports_of(name, tree):
            if imported.startswith("_") and not imported.startswith("__") and module != name:
                target = f"{module}.{imported}"
                # Importing a private *module* of one's own subpackage is how OSMnx does it; a name is not.
                where = PACKAGE.parent / Path(*target.split("."))
                is_module = where.is_dir() or any(where.parent.glob(where.name + ".*"))
                if is_module and group_of(target) == group_of(name):
                    continue
                offences.append(f"{name}:{line} imports {imported} from {module}")
    assert offences == []


def test_every_import_follows_the_data_flow():
    offences = []
    for name, tree in package_modules().items():
        mine = LAYER_OF[group_of(name)]
        for module, imported, line in imports_of(name, tree):
            target = module if imported == "" or module != "coverage_planner" else f"{module}.{imported}"
            theirs = LAYER_OF.get(group_of(target))
            if theirs is None:
                offences.append(f"{name}:{line} imports {target}, which is in no layer")
            elif theirs > mine:
                offences.append(
                    f"{name}:{line} ({group_of(name)}) imports {target} ({group_of(target)}), a later stage"
                )
    assert offences == []


def test_every_module_belongs_to_a_layer():
    groups = {group_of(name) for name in package_modules()}
    assert groups <= set(LAYER_OF), groups - set(LAYER_OF)


def test_coverage_py_and_coverage_planner_share_one_interpreter():
    pytest.importorskip("coverage")
    code = (
        "import json, coverage, coverage_planner;"
        "print(json.dumps([coverage.__file__, hasattr(coverage, 'Coverage'), coverage_planner.__file__]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    coverage_file, is_coverage_py, ours = json.loads(out)
    assert is_coverage_py and "coverage_planner" not in coverage_file
    assert Path(ours).resolve().parent == PACKAGE


def test_importing_the_package_loads_no_map_chart_download_or_cluster_library():
    code = (
        "import sys, json, coverage_planner as cp; cp.__version__;"
        "print(json.dumps(sorted(m for m in ('folium', 'matplotlib', 'osmnx', 'networkx', 'dask', 'distributed')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_public_names_resolve_and_the_version_is_the_installed_one():
    from importlib.metadata import version

    assert cp.__version__ == version("coverage-planner")
    missing = [name for name in cp.__all__ if getattr(cp, name, None) is None]
    assert missing == []
    assert set(dir(cp)) == set(cp.__all__)


def test_every_error_the_api_raises_on_purpose_is_a_coverage_error():
    for name in ("InputError", "InputErrors", "NetworkError", "ScenarioError", "DataError", "ProblemError"):
        assert issubclass(getattr(cp, name), cp.CoverageError)
    assert cp.ProposalError is cp.ProblemError


def test_package_ships_its_type_marker():
    assert (PACKAGE / "py.typed").is_file()
