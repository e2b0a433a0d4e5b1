"""The package layout stays layered (docs/architecture.md, "Layers"): checked from the source with ``ast``.

Every module of ``darts_gnn`` is parsed and its imports of ``darts_gnn`` modules collected (relative ones
resolved against the module's own path). The test fails on a cycle between the top-level packages, on
an import that goes up the declared layer order, on a ``darts_gnn`` import inside a function or class
(imports of the project belong at the top of the module), and on a module or function that is too long.
"""
from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "darts_gnn"

#: The layer order, bottom first: a module may import its own layer and the layers below it, never
#: one above. The names are darts_gnn's top-level modules and packages; ``darts_gnn`` is the package's
#: own ``__init__`` (the public facade) and ``__main__``. Keep in step with docs/architecture.md.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "registries", "version"),
    ("store", "config", "distributed"),
    ("ops", "data", "features"),
    ("nn",),
    ("space",),
    ("tasks",),
    ("engine",),
    ("search",),
    ("pipeline", "experiments"),
    ("serve",),
    ("cli",),
    ("darts_gnn", "__main__"),
]
MAX_LINES = 400
MAX_FUNCTION_LINES = 60
LEVEL = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _modules() -> dict[str, tuple[Path, bool]]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mods[".".join(parts)] = (path, is_pkg)
    return mods


MODULES = _modules()


def unit_of(module: str) -> str:
    """The layer unit of a dotted module name: its top-level name under darts_gnn."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "darts_gnn"


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    if node.level > 1:
        base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.lru_cache(maxsize=None)
def _imports_cached(root: Path, module: str) -> tuple:
    return tuple(_imports(module))


def imports_of(module: str) -> tuple:
    """``(imported darts_gnn module, line, at the top of the module)`` for each import in ``module``."""
    return _imports_cached(ROOT, module)


def _imports(module: str) -> list[tuple[str, int, bool]]:
    path, is_pkg = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    found = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            targets: list[str] = []
            if isinstance(child, ast.ImportFrom):
                base = _resolve(module, is_pkg, child) if child.level else (child.module or "")
                if base == "darts_gnn" or base.startswith("darts_gnn."):
                    # ``from pkg import submodule`` imports the submodule
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                               for a in child.names]
            elif isinstance(child, ast.Import):
                targets = [a.name for a in child.names if a.name == "darts_gnn" or a.name.startswith("darts_gnn.")]
            found.extend((t, child.lineno, not nested) for t in dict.fromkeys(targets))
            visit(child, inner)

    visit(tree, False)
    return found


def test_every_unit_has_a_layer():
    units = {unit_of(m) for m in MODULES}
    missing = sorted(units - set(LEVEL))
    assert not missing, f"top-level modules without a layer in LAYERS: {missing}"


def test_no_upward_imports():
    bad = []
    for module in MODULES:
        here = LEVEL[unit_of(module)]
        for target, line, _ in imports_of(module):
            there = LEVEL.get(unit_of(target))
            if there is not None and there > here:
                bad.append(f"{MODULES[module][0].relative_to(ROOT.parent)}:{line}: {module} imports {target} "
                           f"(layer {unit_of(target)!r} is above {unit_of(module)!r})")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a list of nodes, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := dfs(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (c := dfs(n)):
            return c
    return None


def test_no_cycles_between_packages():
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        for target, _, _ in imports_of(module):
            a, b = unit_of(module), unit_of(target)
            if a != b:
                graph.setdefault(a, set()).add(b)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


def test_no_cycles_between_modules():
    """Module-level imports form no cycle (a package's ``__init__`` importing its own modules aside)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        for target, _, top in imports_of(module):
            if top and target != module and not module.startswith(target + "."):
                graph.setdefault(module, set()).add(target)
    cycle = _cycle(graph)
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle)


def test_project_imports_at_module_top():
    bad = [f"{MODULES[m][0].relative_to(ROOT.parent)}:{line}: imports {target} inside a function or class"
           for m in MODULES for target, line, top in imports_of(m) if not top]
    assert not bad, "darts_gnn imports belong at the top of the module:\n" + "\n".join(bad)


def test_module_size():
    long = [f"{path.relative_to(ROOT.parent)}: {n} lines"
            for path, _ in MODULES.values() if (n := len(path.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines (split them by concept):\n" + "\n".join(long)


def test_function_size():
    long = []
    for path, _ in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}: {node.name} has {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def test_the_checks_catch_violations(tmp_path):
    """The checks themselves: an upward import, a nested import and a cycle are all reported."""
    pkg = tmp_path / "darts_gnn"
    (pkg / "config").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("from .config import schema\n")
    (pkg / "config" / "__init__.py").write_text("")
    (pkg / "config" / "schema.py").write_text("def f():\n    from ..errors import X\n")
    global MODULES, ROOT
    saved = MODULES, ROOT
    try:
        ROOT = pkg
        MODULES = _modules()
        with pytest.raises(AssertionError, match="darts_gnn.errors imports darts_gnn.config.schema"):
            test_no_upward_imports()
        with pytest.raises(AssertionError, match="inside a function"):
            test_project_imports_at_module_top()
        with pytest.raises(AssertionError, match="errors -> config -> errors|config -> errors -> config"):
            test_no_cycles_between_packages()
    finally:
        MODULES, ROOT = saved
