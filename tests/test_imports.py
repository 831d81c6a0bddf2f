"""The package's import structure: no cycle among its modules, each module imports on its own,
and no module imports a private name of another.

The module graph is read from the source with :mod:`ast`, so it covers every import the code can
run, at module level and inside functions alike: an import put inside a function to dodge a cycle
still counts. Edges go from a module to each meshlearn module it names; ``from .pkg import name``
counts as an import of ``pkg.name`` where that is a module, else of the package ``pkg`` itself.
A module's own parent packages are not edges (Python runs them first, whatever the module
imports). A second graph holds only what runs at import time (module-level imports, and the
``__init__`` of every package a module imports from, which runs first): a cycle there is a module
that can fail to import depending on what was imported before it.

The modules are found by walking the package folder, so modules added or moved elsewhere are
checked too. Importing each one alone runs in a fresh interpreter that loads the third-party
libraries once and then forks a process per module (a new interpreter per module would spend
most of its time importing numpy, scipy and torch again).
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "meshlearn"

# Cycles known to remain, each given by the modules or packages its members all lie in: io and
# validate import each other (validate.py's ``validate(path)`` loads the file; io.py checks what it
# loads). While only such cycles remain the cycle test is an expected failure; any other cycle
# fails it, and once these are gone it passes.
KNOWN_CYCLES: list[tuple[str, ...]] = []


def package_modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root``: dotted name -> file (packages by ``__init__.py``)."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom, modules: dict[str, Path]) -> str:
    """The absolute dotted name that ``from <node.module>`` means inside ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module, modules):
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """The innermost package module that ``name`` is or lies in (``a.b.c`` -> ``a.b`` if no ``c``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _module_level(tree: ast.Module):
    """The statements that run when the module is imported: all but function bodies and
    ``if TYPE_CHECKING:`` blocks (class bodies and other blocks do run)."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def imports_of(
    module: str, modules: dict[str, Path], *, module_level: bool = False
) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for each meshlearn import in ``module``;
    with ``module_level``, only those that run when it is imported."""
    tree = ast.parse(modules[module].read_text(), filename=str(modules[module]))
    found = []
    for node in _module_level(tree) if module_level else ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name, modules)
                if target is not None:
                    found.append((target, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node, modules)
            if _known(source, modules) is None:
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in modules:
                    found.append((submodule, None, node.lineno))
                else:
                    found.append((_known(source, modules), alias.name, node.lineno))
    return found


def _parents(module: str) -> set[str]:
    return {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its code, minus its own parents."""
    graph = {}
    for module in modules:
        own = _parents(module) | {module}
        graph[module] = {target for target, _, _ in imports_of(module, modules)} - own
    return graph


def import_time_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the package modules that importing it runs: those its module-level code imports
    and their parent packages (an ``__init__`` runs before its submodule), minus its own parents."""
    graph = {}
    for module in modules:
        own = _parents(module) | {module}
        targets = set()
        for target, _, _ in imports_of(module, modules, module_level=True):
            targets |= {target} | _parents(target)
        graph[module] = targets - own
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module, as a path that returns to it."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node] & members):
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"{component} is not a cycle")


def _describe(graph: dict[str, set[str]], component: list[str], modules: dict[str, Path]) -> str:
    """The cycle's shortest path, and for each step the file and lines of the import."""
    cycle = shortest_cycle(graph, component)
    lines = [" -> ".join(cycle)]
    for a, b in zip(cycle, cycle[1:]):
        found = imports_of(a, modules)
        where = sorted({line for t, _, line in found if t == b})
        via = sorted({t for t, _, _ in found if b in _parents(t)})
        how = f"imports {b}" if where else f"imports {', '.join(via)} (which runs the package {b})"
        if not where:
            where = sorted({line for t, _, line in found if t in via})
        lines.append(f"    {modules[a].relative_to(ROOT)}:{','.join(map(str, where))} {how}")
    lines.append(f"    (the modules on cycles with these: {', '.join(component)})")
    return "\n".join(lines)


def test_graph_finds_a_cycle_and_its_shortest_path():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"e2"}, "e2": {"e"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["e", "e2"]]
    assert shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b"}, "b": set()}) == []


def test_relative_imports_resolve(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .sub import thing\n")
    (pkg / "top.py").write_text("def f():\n    from .sub.leaf import g\n    from . import sub\n")
    (pkg / "sub" / "__init__.py").write_text("from .leaf import thing\nfrom .. import top\n")
    (pkg / "sub" / "leaf.py").write_text("from ..top import _private\nimport pkg.top\n")
    modules = package_modules(tmp_path, "pkg")
    assert import_graph(modules) == {
        "pkg": {"pkg.sub"},
        "pkg.top": {"pkg.sub.leaf", "pkg.sub"},
        "pkg.sub": {"pkg.sub.leaf", "pkg.top"},
        "pkg.sub.leaf": {"pkg.top"},
    }
    assert ("pkg.top", "_private", 1) in imports_of("pkg.sub.leaf", modules)
    assert strongly_connected(import_graph(modules)) == [["pkg.sub", "pkg.sub.leaf", "pkg.top"]]


def _within(module: str, owner: str) -> bool:
    return module == owner or module.startswith(owner + ".")


def _is_known(component: list[str]) -> bool:
    return any(all(any(_within(m, o) for o in owners) for m in component) for owners in KNOWN_CYCLES)


def test_no_import_cycle_among_the_modules():
    modules = package_modules()
    graph = import_graph(modules)
    cycles = strongly_connected(graph)
    unknown = [c for c in cycles if not _is_known(c)]
    assert not unknown, "import cycles:\n" + "\n".join(_describe(graph, c, modules) for c in unknown)
    if cycles:
        pytest.xfail("known cycles remain:\n" + "\n".join(_describe(graph, c, modules) for c in cycles))


def test_no_cycle_among_the_imports_that_run_at_import_time():
    modules = package_modules()
    graph = import_time_graph(modules)
    cycles = strongly_connected(graph)
    assert not cycles, "import-time cycles:\n" + "\n".join(_describe(graph, c, modules) for c in cycles)


def test_no_private_name_imported_from_another_module():
    modules = package_modules()
    found = []
    for module in modules:
        for target, name, line in imports_of(module, modules):
            private = name is not None and name.startswith("_") and not name.startswith("__")
            if private and target != module:
                found.append(f"{modules[module].relative_to(ROOT)}:{line} imports {name} from {target}")
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def third_party_imports(modules: dict[str, Path]) -> list[str]:
    """The modules outside the package that the package's module-level code imports."""
    names = set()
    for path in modules.values():
        for node in _module_level(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(n for n in names if n.split(".")[0] != PACKAGE and n != "__future__")


def import_each_alone(names: list[str], preload: list[str], workers: int, package: str = PACKAGE) -> dict[str, str]:
    """Import each module in a process of its own with no module of ``package`` loaded before it.

    This process imports ``preload`` (third-party libraries: what would make every import slow)
    and then forks one child per module, ``workers`` at a time; a child imports its module and
    exits. Returns module -> the error, for the modules that failed.
    """
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception:  # an optional dependency that is absent: its importer will say so
            pass
    assert not any(m == package or m.startswith(package + ".") for m in sys.modules), "the preload loaded the package"
    failed, running, todo = {}, {}, list(names)
    while todo or running:
        while todo and len(running) < workers:
            name = todo.pop(0)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: import, report, exit without running the parent's cleanup
                os.close(read)
                code, message = 0, b""
                try:
                    importlib.import_module(name)
                except BaseException as e:  # noqa: BLE001 - report anything, even SystemExit
                    code, message = 1, f"{type(e).__name__}: {e}".encode()
                os.write(write, message)
                os._exit(code)
            os.close(write)
            running[pid] = (name, read)
        pid, status = os.wait()
        name, read = running.pop(pid)
        with os.fdopen(read, "rb") as pipe:
            message = pipe.read().decode(errors="replace")
        if status != 0:
            failed[name] = message or f"exit status {status}"
    return failed


def import_alone_in_a_fresh_interpreter(root: Path, package: str, names: list[str], preload: list[str]) -> dict[str, str]:
    """:func:`import_each_alone` run by a new interpreter (this file as a script) with ``root`` first
    on its path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("PYTHONIMPORTTIME", None)
    request = {"names": names, "preload": preload, "workers": min(4, os.cpu_count() or 1), "package": package}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        input=json.dumps(request), cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks one process per module")


@needs_fork
def test_a_module_that_cannot_be_imported_first_is_reported(tmp_path):
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "fine.py").write_text("import json\nfrom . import leaf\n")
    (pkg / "leaf.py").write_text("VALUE = 1\n")
    (pkg / "a.py").write_text("from .b import B\nA = 1\n")
    (pkg / "b.py").write_text("from .a import A\nB = 2\n")
    (pkg / "broken.py").write_text("raise ValueError('no')\n")
    modules = sorted(package_modules(tmp_path, "cyclepkg"))
    failed = import_alone_in_a_fresh_interpreter(tmp_path, "cyclepkg", modules, ["json"])
    assert sorted(failed) == ["cyclepkg.a", "cyclepkg.b", "cyclepkg.broken"]
    assert "partially initialized" in failed["cyclepkg.a"] and failed["cyclepkg.broken"] == "ValueError: no"


@needs_fork
def test_each_module_imports_on_its_own_in_a_fresh_interpreter():
    """One fresh interpreter preloads the third-party libraries, then each module is imported in
    a process forked from it, before any other module of the package."""
    modules = package_modules()
    failed = import_alone_in_a_fresh_interpreter(ROOT, PACKAGE, sorted(modules), third_party_imports(modules))
    assert not failed, "modules that fail to import on their own:\n" + "\n".join(f"{m}: {e}" for m, e in failed.items())


if __name__ == "__main__":  # the fresh interpreter of the tests above: a request on stdin, the failures on stdout
    request = json.loads(sys.stdin.read())
    print(json.dumps(import_each_alone(request["names"], request["preload"], request["workers"], request["package"])))
