"""Package-wide rules: import direction, public names, no print in library code."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import tunedepth

ROOT = Path(tunedepth.__file__).parent
# Imports point downward only: a package may import packages of lower or equal rank.
RANK = {"config": 0, "data": 1, "models": 1, "tuning": 2, "training": 3, "evaluation": 4, "study": 5,
        "report": 6, "cli": 7}
SHARED = {"errors", "_registry", "_io", "_seeding", "_checks"}


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tunedepth"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tunedepth")}
    return found


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_downward(path):
    rel = path.relative_to(ROOT)
    own = rel.parts[0] if len(rel.parts) > 1 else None
    if own is None:
        return
    for module in _imports(path):
        target = _package(module)
        if target is None or target in SHARED:
            continue
        assert RANK[target] <= RANK[own], f"{rel} imports {module}: {own} may not import {target}"
        if own == "evaluation":
            assert target == "evaluation", f"{rel}: evaluation may only use numpy/scipy/sklearn, not {module}"
        if own in ("data", "models"):
            assert target in (own, "config"), f"{rel}: {own} may not import {module}"


def test_evaluation_does_not_import_torch():
    for path in (ROOT / "evaluation").rglob("*.py"):
        assert "torch" not in {n.split(".")[0] for n in _imports_all(path)}, path


def _imports_all(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _packages() -> list[str]:
    names = ["tunedepth"]
    for info in pkgutil.walk_packages(tunedepth.__path__, "tunedepth."):
        if info.ispkg:
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", _packages())
def test_all_entries_resolve_once(name):
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"duplicates in {name}.__all__"
    for entry in exported:
        assert hasattr(module, entry), f"{name}.__all__ lists {entry!r}, which does not resolve"
    source = Path(module.__file__).read_text()
    assert "import *" not in source


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_library_never_prints(path):
    if path.relative_to(ROOT).parts[0] == "cli":
        return
    calls = [n for n in ast.walk(ast.parse(path.read_text()))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"]
    assert not calls, f"{path} calls print(); library code logs"


def test_no_grab_bag_modules():
    banned = {"utils.py", "misc.py", "helpers.py", "common.py"}
    assert not [p for p in _modules() if p.name in banned]
