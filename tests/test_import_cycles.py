"""A project rule: no module of the application (or its benchmarks) imports itself through others.

Every import counts: at module level, under TYPE_CHECKING, and inside functions. A cycle that only a
function-level or TYPE_CHECKING import closes still ties the modules together (neither can be read, moved or
tested without the other), so it is refused like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("api", "graph", "domain", "persistence", "integrations", "bench")


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every module of these packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[_module_name(path, root)] = path
    return found


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name `from … import` names, relative imports resolved against the importing module."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The known modules this one imports: `from a import b` names a.b when that is a module, else a."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.add(submodule if submodule in known else source)
    return {t for t in targets if t in known and t != module}


def import_graph(root: Path, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    known = modules(root, packages)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import one another (Tarjan's strongly connected
    components), each as a path that starts and ends at its alphabetically first module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:  # recursion is fine: the import graph is a few hundred modules
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component: set[str] = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(_path_through(graph, c) for c in components)


def _path_through(graph: Mapping[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle from the component's first module back to itself, within the component."""
    start = min(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for v in frontier:
            for w in sorted(graph[v] & component):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in previous:
                    previous[w] = v
                    following.append(w)
        frontier = following
    raise AssertionError(f"not a cycle: {sorted(component)}")


def test_no_import_cycles() -> None:
    found = [" -> ".join(cycle) for cycle in cycles(import_graph(ROOT))]
    assert found == [], "import cycles:\n" + "\n".join(found)


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_rule_finds_cycles_of_every_kind_of_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            # closed by an import under TYPE_CHECKING
            "pkg/context.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.shared import X\n",
            "pkg/shared.py": "from pkg.context import Context\n",
            # closed by an import inside a function, relative imports, `import a.b`
            "pkg/run.py": "from . import report\n",
            "pkg/report.py": "def write():\n    from .sub import deep\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/deep.py": "import pkg.run\n",
            # no cycle: the package and one of its modules, a module importing a name of another
            "pkg/ok.py": "from pkg import context\nfrom pkg.context import Context\nimport json\n",
        },
    )
    assert cycles(import_graph(tmp_path, ["pkg"])) == [
        ["pkg.context", "pkg.shared", "pkg.context"],
        ["pkg.report", "pkg.sub.deep", "pkg.run", "pkg.report"],
    ]
