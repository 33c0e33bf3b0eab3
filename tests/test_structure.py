"""The package's structure: an acyclic import graph, kernels reached only through ops,
complete ``__all__`` lists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import ddsp

ROOT = Path(ddsp.__file__).parent
KERNELS = Path(importlib.import_module("ddsp.kernels").__file__).parent


def _modules() -> dict[str, Path]:
    """Module name -> file, for ddsp and its kernels subpackage."""
    out = {}
    for base, prefix in ((ROOT, "ddsp"), (KERNELS, "ddsp.kernels")):
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([prefix, *parts])
            if prefix == "ddsp" and name.startswith("ddsp.kernels"):
                continue  # the kernels folder is mapped in from outside the package
            out[name] = path
    return out


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _imports(name: str, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere (function level included)."""
    tree = ast.parse(modules[name].read_text())
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ddsp")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("ddsp"):
                continue
            subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules}
            named = {a.name for a in node.names if f"{target}.{a.name}" not in modules}
            found |= subs
            if named or not subs:
                found.add(target)
    return {m for m in found if m in modules and m != name}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (name -> names it imports) as a path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(graph):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def test_the_import_graph_has_no_cycle():
    modules = _modules()
    cycle = _find_cycle({name: _imports(name, modules) for name in modules})
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_planted_cycle(tmp_path):
    # function-level imports count: a imports b inside a function, b imports a at the top
    modules = {"ddsp.a": tmp_path / "a.py", "ddsp.b": tmp_path / "b.py"}
    modules["ddsp.a"].write_text("def f():\n    from . import b\n")
    modules["ddsp.b"].write_text("from .a import f\n")
    graph = {name: _imports(name, modules) for name in modules}
    assert graph == {"ddsp.a": {"ddsp.b"}, "ddsp.b": {"ddsp.a"}}
    assert _find_cycle(graph) == ["ddsp.a", "ddsp.b", "ddsp.a"]


def test_kernels_are_reached_only_through_ops():
    modules = _modules()
    offenders = {
        name: sorted(m for m in _imports(name, modules) if m.startswith("ddsp.kernels"))
        for name in modules
        if not name.startswith(("ddsp.ops", "ddsp.kernels"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_every_public_op_is_in_ops_all():
    import ddsp.ops

    for name, path in _modules().items():
        if not name.startswith("ddsp.ops."):
            continue
        tree = ast.parse(path.read_text())
        public = {
            n.name
            for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")
        }
        assert public <= set(ddsp.ops.__all__), (name, public - set(ddsp.ops.__all__))


def test_every_kernel_module_has_its_twins_or_says_why_not():
    for path in sorted(KERNELS.glob("*.py")):
        if path.name.startswith("_"):
            continue
        text = path.read_text()
        stem = path.stem
        for twin in ("_reference", "_cpu", "_cuda"):
            assert twin in text, f"kernels/{path.name} lacks a {twin} twin"
        assert stem  # one recursion per file, named after it
