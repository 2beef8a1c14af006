"""Imports run one way: shells → ingest → stages → store → vocabulary (docs/architecture.md).

Each module of ``monitor/`` belongs to a layer and may import only from its own layer and the
layers below it, with one refinement: the stages (decoding, join, statistics) never import the
store — they fill an ``Effects`` and return values; ``monitor/ingest`` wires them to the store.
The dashboard reads through the query module and imports only vocabulary besides.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Layer of each top-level part of ``monitor`` (higher may import lower, never the reverse).
LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 0,
    "vocab": 0,
    "times": 0,
    "metrics": 0,
    "store": 1,
    "events": 2,
    "rawjson": 2,
    "features": 2,
    "join": 2,
    "stats": 2,
    "alert": 2,
    "retrain": 2,
    "ingest": 3,
    "runtime": 4,
    "baseline": 4,
    "simulate": 4,
    "services": 4,
    "cli": 4,
    "doctor": 4,
    "__init__": 4,
    "__main__": 4,
}
STAGES = {"events", "rawjson", "features", "join", "stats", "alert", "retrain"}
#: What the dashboard may import from ``monitor``.
DASHBOARD_ALLOWED = ("monitor.config", "monitor.errors", "monitor.vocab", "monitor.times",
                     "monitor.store.query", "monitor.store.client")  # fmt: skip


def part(module: str) -> str:
    """``monitor.stats.window`` → ``stats``; ``monitor`` itself → ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def imports(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """Every ``monitor...`` module a file imports (also inside functions), with its line."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "monitor":  # from monitor import config → monitor.config
                yield from ((node.lineno, f"monitor.{a.name}") for a in node.names)
            elif module.startswith("monitor."):
                yield node.lineno, module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("monitor"):
                    yield node.lineno, alias.name


def module_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"] or ["monitor"]
    return ".".join(parts)


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for path in sorted((root / "monitor").rglob("*.py")):
        module = module_of(path, root)
        own = part(module) if module != "monitor" else "__init__"
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for line, target in imports(path, package):
            other = part(target)
            where = f"{path.relative_to(root)}:{line} imports {target}"
            if LAYERS[other] > LAYERS[own]:
                found.append(f"{where} (layer {LAYERS[other]} above {LAYERS[own]})")
            elif own in STAGES and other == "store":
                found.append(f"{where} (a stage names the store)")
    return found


def test_every_part_of_monitor_has_a_layer() -> None:
    parts = {p.stem for p in (ROOT / "monitor").glob("*.py")}
    parts |= {p.name for p in (ROOT / "monitor").iterdir() if (p / "__init__.py").exists()}
    assert parts <= set(LAYERS), parts - set(LAYERS)


def test_imports_run_one_way() -> None:
    assert violations() == []


def test_the_check_reports_an_upward_import_and_a_stage_naming_the_store(tmp_path: Path) -> None:
    for package in ("store", "stats"):
        (tmp_path / "monitor" / package).mkdir(parents=True)
    (tmp_path / "monitor" / "store" / "bad.py").write_text("from monitor.stats import window\n")
    (tmp_path / "monitor" / "stats" / "bad.py").write_text("import monitor.store.keys\n")
    (tmp_path / "monitor" / "stats" / "fine.py").write_text("from monitor.vocab import effects\n")
    assert violations(tmp_path) == [
        "monitor/stats/bad.py:1 imports monitor.store.keys (a stage names the store)",
        "monitor/store/bad.py:1 imports monitor.stats (layer 2 above 1)",
    ]


def test_the_dashboard_imports_only_vocabulary_and_the_query_module() -> None:
    found = []
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for line, target in imports(path, "dashboard"):
            if not target.startswith(DASHBOARD_ALLOWED):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert found == []
