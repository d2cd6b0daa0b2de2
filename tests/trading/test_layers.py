"""The Kalshi adapter's boundaries, read from the source (docs/architecture.md, Layers):
trading/kalshi/ imports nothing from the layers above it, and only the commands,
the embedded assembly and the simulator itself import the simulator."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("trading", "dashboard", "v3site")
ABOVE_THE_ADAPTER = ("trading.feed", "trading.execution", "trading.simulator", "dashboard", "v3site")
MAY_IMPORT_THE_SIMULATOR = ("trading/management/commands/", "trading/feed/embedded.py", "trading/simulator/")
# Kept small enough to read in one sitting; split by job when a module grows past it.
MAX_MODULE_LINES = 500


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module ``source`` imports, at any depth (function-level imports too),
    with ``from a import b`` counted as both ``a`` and ``a.b``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def imports_any(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def production_modules() -> list[Path]:
    return sorted(p for top in PRODUCTION for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def imports_of(path: Path) -> set[str]:
    return imported_modules(path.read_text(), module_name(path), path.name == "__init__.py")


def test_the_finder_sees_every_form_of_import() -> None:
    source = "import trading.feed.bus\ndef f():\n    from trading import simulator\nfrom ..execution import risk\n"
    found = imported_modules(source, "trading.kalshi.ws")
    assert imports_any(found, ("trading.simulator",)) == ["trading.simulator"]
    assert imports_any(found, ("trading.feed", "trading.execution")) == [
        "trading.execution",
        "trading.execution.risk",
        "trading.feed.bus",
    ]


@pytest.mark.parametrize("path", sorted((ROOT / "trading" / "kalshi").rglob("*.py")), ids=lambda p: p.name)
def test_the_kalshi_adapter_imports_nothing_above_it(path: Path) -> None:
    assert imports_any(imports_of(path), ABOVE_THE_ADAPTER) == []


def test_only_the_commands_and_the_embedded_assembly_start_the_simulator() -> None:
    importers = [
        str(path.relative_to(ROOT))
        for path in production_modules()
        if imports_any(imports_of(path), ("trading.simulator",))
        and not str(path.relative_to(ROOT)).startswith(MAY_IMPORT_THE_SIMULATOR)
    ]
    assert importers == []


@pytest.mark.parametrize("path", sorted((ROOT / "trading" / "kalshi").rglob("*.py")), ids=lambda p: p.name)
def test_kalshi_modules_stay_readable(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES
