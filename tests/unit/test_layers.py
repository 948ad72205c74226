"""The package's imports go downward only, and no module imports itself through a cycle.

Every ``import`` of a batchtrack module (at module level or inside a function) is read from the
source with :mod:`ast`, so a lazy import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import batchtrack

PACKAGE = Path(batchtrack.__file__).parent

#: Layers, lowest first: a module may import only from its own layer or those below.
LAYERS: list[tuple[str, ...]] = [
    ("errors", "schema"),
    ("params", "calibration", "io"),
    ("background", "detect", "link", "motion", "split", "stitch", "autoparams", "quality",
     "metrics", "arenas", "arena_tracking", "edits", "events"),
    ("synth", "plots", "analysis", "analysis_files", "corrections", "overlay"),
    ("movie",),
    ("recording",),
    ("workflows",),
    ("report",),
    ("batch",),
    ("cli", "gui"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def imported(path: Path) -> set[str]:
    """batchtrack modules imported by the file, as dotted names inside the package."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.startswith("batchtrack"):
                target = node.module.removeprefix("batchtrack").lstrip(".")
            else:
                continue
            if target:
                found.add(target)
            else:  # "from .. import x" reaching the package root: modules, or __version__
                found.update(alias.name for alias in node.names if _is_module(alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("batchtrack."):
                    found.add(alias.name.removeprefix("batchtrack."))
    found.discard(name)
    return {t for t in found if t}


def _is_module(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def layer(name: str) -> int:
    top = name.split(".")[0]
    for i, members in enumerate(LAYERS):
        if top in members:
            return i
    raise AssertionError(f"module {name} is in no layer: add it to LAYERS in {__file__}")


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): imported(p) for p in PACKAGE.rglob("*.py") if module_name(p) != ""}
    return modules


def test_every_import_goes_down_or_stays_in_its_layer() -> None:
    upward = [
        f"{name} (layer {layer(name)}) imports {target} (layer {layer(target)})"
        for name, targets in graph().items()
        for target in targets
        if layer(target) > layer(name)
    ]
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    edges = graph()
    modules = set(edges)

    def resolve(target: str) -> str | None:
        while target and target not in modules:  # "io.results.X" -> "io.results"
            target = target.rpartition(".")[0]
        return target or None

    resolved = {m: {r for t in ts if (r := resolve(t)) and r != m} for m, ts in edges.items()}
    # A package's __init__ importing its own submodules to register them is not a cycle
    # between layers, but a cycle among other modules is.
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(resolved[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                if not _registration(cycle):
                    cycles.append(" -> ".join(cycle))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for module in sorted(resolved):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _registration(cycle: list[str]) -> bool:
    """A package importing its own submodules, which import the package (a registry)."""
    packages = {m for m in cycle if (PACKAGE / m.replace(".", "/") / "__init__.py").is_file()}
    return len(packages) == 1 and all(m.startswith(next(iter(packages))) for m in cycle)


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    source = PACKAGE / "detect.py"
    assert "schema" in imported(source)
    assert layer("cli.track") > layer("batch.run") > layer("movie") > layer("detect")
