"""The package's layers point one way: no import loop between its parts, type-only imports and
imports inside functions included (a loop there is a loop in the design, whatever Python allows)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "src" / "insightflow"


def _part(module: str) -> str:
    """The part of the package a module belongs to: ``insightflow.lake.catalog`` -> ``lake``."""
    return module.split(".")[1] if module.count(".") else "insightflow"


def imports_between_parts() -> dict[str, dict[str, set[str]]]:
    """part -> the parts it imports -> the modules that do."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = ([f"insightflow.{a.name}" for a in node.names] if node.module == "insightflow"
                         else [node.module])
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                target = _part(name) if name.startswith("insightflow.") else None
                # a module or subpackage (``from insightflow import __version__`` names neither)
                if target and ((PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").exists()):
                    source = _part(module)
                    if source != target:
                        graph.setdefault(source, {}).setdefault(target, set()).add(module)
    return graph


def test_no_import_loop_between_the_parts_of_the_package() -> None:
    graph = imports_between_parts()
    try:
        order = list(graphlib.TopologicalSorter({p: set(t) for p, t in graph.items()}).static_order())
    except graphlib.CycleError as error:
        cycle = error.args[1]
        where = [f"{a} -> {b} ({', '.join(sorted(graph[a][b]))})" for a, b in zip(cycle, cycle[1:], strict=False)]
        raise AssertionError(f"import loop: {'; '.join(where)}") from None
    assert {"lake", "run", "lakehouse", "cli"} <= set(order)


def test_the_run_and_monitoring_depend_on_the_lake_not_on_the_facade() -> None:
    graph = imports_between_parts()
    assert "lakehouse" not in graph.get("run", {}), graph["run"]["lakehouse"]
    assert "run" not in graph.get("monitoring", {}), graph["monitoring"]["run"]
    assert "cli" not in {t for targets in graph.values() for t in targets}  # nothing imports the CLI
    assert "lake" not in graph.get("settings", {})  # the lake reads its settings, not the reverse
