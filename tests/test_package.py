"""Package-wide rules: import direction, torch-free layers, one shape for every task, file sizes, public names, no
print in library code (docs/architecture.md)."""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import tunedepth

ROOT = Path(tunedepth.__file__).parent
# Imports point downward only: a package may import packages of lower or equal rank.
RANK = {"config": 0, "data": 1, "models": 1, "tuning": 2, "training": 3, "evaluation": 4, "results": 5,
        "analysis": 6, "study": 7, "report": 8, "deploy": 9, "cli": 10}
SHARED = {"errors", "_registry", "_io", "_seeding", "_checks"}
# The layers that read and judge a finished study import neither the training side nor torch.
TORCH_FREE = {"results": {"config", "evaluation", "results"},
              "analysis": {"config", "evaluation", "results", "analysis"},
              "report": {"config", "evaluation", "results", "analysis", "report"}}


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
        if own in TORCH_FREE:
            assert target in TORCH_FREE[own], f"{rel}: {own} may not import {module} (it imports torch or runs)"


@pytest.mark.parametrize("package", sorted(TORCH_FREE))
def test_torch_free_layers_import_no_torch(package):
    """No module of results/, analysis/ or report/ imports torch (or timm, torchvision) itself."""
    for path in (ROOT / package).rglob("*.py"):
        roots = {n.split(".")[0] for n in _imports_all(path)}
        assert not roots & {"torch", "torchvision", "timm"}, f"{path} imports {roots & {'torch', 'timm'}}"


def test_reading_and_reporting_a_study_never_loads_torch():
    """The issue's check, in a fresh interpreter: importing the analysis, the results and the report loads no torch
    (through any import chain)."""
    code = ("import sys, tunedepth.analysis, tunedepth.results, tunedepth.report; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))[:5]")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


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



# --- One shape for every task -----------------------------------------------------------------------------------

TASK_NAMES = ("classification", "detection", "segmentation")
# Attributes only a task's own modules may read: the task tables' fields and the task data's own fields, and the
# names of the optional fields and properties the tasks had before they were registered parts.
LEGACY_TASK_ATTRIBUTES = {"detection", "segmentation", "detection_settings", "segmentation_settings", "froc",
                          "boundaries"}
# The layers that orchestrate runs and studies; data/, models/, training/ and evaluation/ are the libraries tasks
# are built from.
ORCHESTRATING = ("config", "results", "analysis", "study", "report", "cli")


def _is_task_module(path: Path) -> bool:
    return "tasks" in path.relative_to(ROOT).parts


def _task_attributes() -> set[str]:
    from tunedepth.config import DetectionConfig, SegmentationConfig
    from tunedepth.study.tasks import DetectionData, SegmentationData, TaskData

    found = set(DetectionConfig.model_fields) | set(SegmentationConfig.model_fields)
    for cls in (DetectionData, SegmentationData):
        found |= {name for name in vars(cls).get("__dataclass_fields__", {})} - set(dir(TaskData))
    # "settings" names a task's table in the task data and the analysis settings elsewhere: too generic to police.
    return (found - {"settings"}) | LEGACY_TASK_ATTRIBUTES


def _string_constants(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


@pytest.mark.parametrize("path", [p for p in _modules() if not _is_task_module(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_outside_the_tasks_branches_on_a_task(path):
    """Outside ``*/tasks/``, no comparison or match names a task, and the orchestrating layers read no attribute that
    belongs to one task: adding a task is three registered modules, and nothing else changes."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare | ast.MatchValue | ast.match_case):
            named = _string_constants(node) & set(TASK_NAMES)
            assert not named, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')} branches on task {named}"
    if path.relative_to(ROOT).parts[0] in ORCHESTRATING:
        attributes = _task_attributes()
        used = {(n.attr, n.lineno) for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in attributes}
        assert not used, f"{path.relative_to(ROOT)} reads task-specific attributes {sorted(used)}"


def test_the_branch_check_can_fail():
    """The check above flags what it is meant to flag (so that it cannot pass vacuously)."""
    bad = ast.parse("if config.task == 'detection':\n    x = prepared.detection\n")
    assert any(_string_constants(n) & set(TASK_NAMES) for n in ast.walk(bad) if isinstance(n, ast.Compare))
    assert "detection" in _task_attributes() and "n_eval_views" in _task_attributes()


def _non_docstring_constants(tree: ast.AST) -> list[ast.Constant]:
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings]


def _runs_path_parts(tree: ast.AST) -> list[int]:
    """Lines where code spells the path part "runs": a string with "runs/" or "/runs", or "runs" joined as a path
    (``x / "runs"``, ``joinpath("runs")``, ``Path("runs")``, ``os.path.join(..., "runs")``)."""
    lines = [n.lineno for n in _non_docstring_constants(tree)
             if "runs/" in n.value.replace("\\", "/") or "/runs" in n.value.replace("\\", "/")]
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            operands = [node.left, node.right]
        elif isinstance(node, ast.Call) and _is_path_call(node):
            operands = list(node.args)
        else:
            continue
        if any(isinstance(o, ast.Constant) and o.value == "runs" for o in operands):
            lines.append(node.lineno)
    return lines


def _is_path_call(call: ast.Call) -> bool:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name in {"Path", "joinpath", "join", "PurePath"}


@pytest.mark.parametrize("path", [p for p in _modules() if p.relative_to(ROOT).parts[0] != "results"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_the_study_folder_layout_is_spelled_only_in_results(path):
    """The path part "runs" of a study folder appears (outside docstrings) only in tunedepth/results/."""
    lines = _runs_path_parts(ast.parse(path.read_text()))
    assert not lines, f"{path.relative_to(ROOT)} spells the study folder's 'runs' at lines {lines}"


def test_the_layout_check_can_fail():
    for code in ('p = root / "runs" / rid', 'p = f"{root}/runs/{rid}"', 'p = root.joinpath("runs", rid)'):
        assert _runs_path_parts(ast.parse(code)), code
    assert not _runs_path_parts(ast.parse('bar.add_task("runs", total=3)'))


# --- Sizes --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_450_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= 450, f"{path.relative_to(ROOT)} has {n} lines; split it along its seams"


def test_the_runner_stays_small():
    n = len((ROOT / "study" / "runner.py").read_text().splitlines())
    assert n <= 300, f"study/runner.py has {n} lines: one run and the lr sweep only (executors go elsewhere)"


def test_importing_tunedepth_bounds_openmp_spinning_unless_the_user_chose():
    code = "import os, tunedepth; print(os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    got = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env)
    assert got.stdout.strip() == "10000"
    for chosen in ({"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "5"}):
        kept = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                              env={**env, **chosen})
        assert kept.stdout.strip() == chosen.get("GOMP_SPINCOUNT", "None")
