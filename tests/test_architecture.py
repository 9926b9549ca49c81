"""The house rules of the package, checked on its source: short modules, imports that point down, no loops.

Layers, lowest first (DESIGN.md): errors; the common model; the options handed to hooks, the NumPy engine and the
onnxruntime helpers and data a format's hooks use; the hook specs; the plugin manager and the built-in plugins;
validation; reports; the command line and the testing helpers; the package's own ``__init__`` (the public API).  A
module imports only from lower layers, or from its own folder (without loops).  Imports under ``if TYPE_CHECKING:``
never run and count for the direction but make no loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import inspector

PACKAGE = Path(inspector.__file__).resolve().parent  # the package the tests run against, installed or not
MAX_LINES = 400
LAYERS: tuple[tuple[str, ...], ...] = (
    ("inspector.errors", "inspector.version"),
    ("inspector.model",),
    (
        "inspector.options",
        "inspector.engine",
        "inspector.validation.runtime",
        "inspector.validation.standalone",
        "inspector.validation.captured",
    ),
    ("inspector.hookspecs",),
    ("inspector.plugin_manager", "inspector.plugins"),
    ("inspector.validation",),
    ("inspector.report",),
    ("inspector.cli", "inspector.testing"),
    ("inspector", "inspector.__main__"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    """The layer of ``module``: that of the longest prefix listed in ``LAYERS``."""
    best, rank = -1, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer"
    return rank


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def imports(module: str, *, typing_only: bool = True) -> set[str]:
    """The package modules ``module`` imports, at its top or inside functions; with ``typing_only`` also those under
    ``if TYPE_CHECKING:`` (they must point down too, but never run, so they make no loop)."""
    tree = ast.parse(MODULES[module].read_text())
    skipped = (
        set()
        if typing_only
        else {id(n) for block in ast.walk(tree) if _type_checking_block(block) for n in ast.walk(block)}
    )
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module} imports relatively (from {'.' * node.level}{node.module or ''})"
            if node.module and node.module.split(".")[0] == "inspector":
                for alias in node.names:
                    name = f"{node.module}.{alias.name}"
                    found.add(name if name in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "inspector"}
    return found - {module}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_short(module):
    lines = MODULES[module].read_text().count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "inspector"))
def test_imports_point_down(module):
    own_folder = module.rpartition(".")[0]
    for imported in sorted(imports(module)):
        assert imported != "inspector", f"{module} imports the package's __init__ (the public API)"
        own_part = imported.startswith(module + ".")  # a folder's __init__ re-exporting its modules
        same_folder = own_part or imported.rpartition(".")[0] == own_folder or imported == own_folder
        assert layer(imported) < layer(module) or (same_folder and layer(imported) == layer(module)), (
            f"{module} (layer {layer(module)}) imports {imported} (layer {layer(imported)})"
        )


def test_no_import_loops():
    graph = {module: imports(module, typing_only=False) & set(MODULES) for module in MODULES}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import loop: " + " → ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)


def test_engine_needs_numpy_only():
    for module in (m for m in MODULES if m.startswith("inspector.engine")):
        tree = ast.parse(MODULES[module].read_text())
        third_party = {
            (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0
            for alias in (node.names if isinstance(node, ast.Import) else [node])
            if (node.module if isinstance(node, ast.ImportFrom) else alias.name)
        }
        standard = {"__future__", "collections", "dataclasses", "itertools", "math", "threading", "typing", "weakref"}
        assert third_party <= {"numpy", "inspector"} | standard, f"{module} imports {sorted(third_party)}"
