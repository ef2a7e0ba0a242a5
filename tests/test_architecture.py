"""The package's layering: no import cycles, and inference that never loads the training engine."""
from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import i2i

ROOT = Path(i2i.__file__).parent


def _modules() -> dict[str, Path]:
    found = {"i2i": ROOT / "__init__.py"}
    for info in pkgutil.walk_packages([str(ROOT)], prefix="i2i."):
        spec = importlib.util.find_spec(info.name)
        found[info.name] = Path(spec.origin)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of i2i imported anywhere in ``path`` (functions included, ``if TYPE_CHECKING`` blocks excluded)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in modules else base)
    result = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        # importing a.b.c runs a/__init__ and a/b/__init__ first (i2i's own __init__ imports lazily)
        parts = target.split(".")
        result |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} if target.startswith("i2i.") else set()
    own_packages = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    return result - own_packages - {name}  # a module's own packages are already being imported


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_import_cycles():
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in graph:
        if node not in index:
            connect(node)
    assert cycles == [], f"import cycles: {cycles}"


def test_inference_does_not_import_the_training_engine():
    graph = _graph()
    seen, todo = set(), [m for m in graph if m.startswith("i2i.inference")]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(graph.get(module, ()))
    assert not [m for m in seen if m.startswith("i2i.engine")], sorted(m for m in seen if m.startswith("i2i.engine"))


def test_translator_import_loads_no_engine_module():
    code = ("import sys, i2i.inference; from i2i import Translator; "
            "print(sorted(m for m in sys.modules if m.startswith('i2i.engine') or m.startswith('i2i.algorithms')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT.parent).stdout.strip()
    assert out == "[]"
