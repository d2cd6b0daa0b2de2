"""Kalshi's official Python SDK (kalshi-python-async 3.34.0), unchanged, against the
simulator: its pydantic models validate every response, so this proves the simulator
returns every field the SDK requires, in Kalshi's units.

The SDK needs Python >= 3.13 (on 3.11 pip silently installs 3.2.0, which speaks the
retired API), so the test builds a 3.13 venv in .venv-sdk/ once (gitignored) and runs
sdk_script.py there. Without Python 3.13 or the package index it skips, and fails
instead when V3_REQUIRE_SERVICES=1 (CI), so CI cannot pass by skipping.
"""

import asyncio
import glob
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import services_required
from tests.trading.simulator.conftest import KEY_ID
from tests.trading.simulator.test_conformance import example_book
from trading.simulator.server import SimulatorServer

SDK = "kalshi-python-async==3.34.0"
ROOT = Path(__file__).resolve().parents[3]
VENV = ROOT / ".venv-sdk"
SCRIPT = Path(__file__).with_name("sdk_script.py")


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(f"official SDK test cannot run (V3_REQUIRE_SERVICES=1): {reason}", pytrace=False)
    pytest.skip(f"official SDK test skipped: {reason}")


def _python313() -> str | None:
    """A working python3.13: $V3_PYTHON313, PATH (a pyenv shim may exist but refuse), pyenv's versions."""
    candidates = [os.environ.get("V3_PYTHON313"), shutil.which("python3.13")]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True)
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if version.returncode == 0 and version.stdout.startswith("Python 3.13"):
            return candidate
    return None


def _sdk_ready(python: Path) -> bool:
    if not python.exists():
        return False
    check = "import kalshi_python_async as k; assert k.__version__ == '3.34.0'"
    return subprocess.run([python, "-c", check], capture_output=True, timeout=60).returncode == 0


def _sdk_python() -> Path:
    """The venv's interpreter with the SDK installed, building the venv on first use."""
    python = VENV / "bin" / "python"
    if _sdk_ready(python):
        return python
    base = _python313()
    if base is None:
        _unavailable("no working python3.13 (set V3_PYTHON313 to one)")
    steps = ([base, "-m", "venv", "--clear", str(VENV)], [str(python), "-m", "pip", "install", "-q", SDK])
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            _unavailable(f"{' '.join(map(str, step))} failed: {result.stderr[-500:]}")
    if not _sdk_ready(python):
        _unavailable(f"{SDK} did not install into {VENV}")
    return python


@pytest.mark.timeout(900)
async def test_official_sdk_works_against_the_simulator(sim: SimulatorServer, sim_key: tuple[Path, Path]):
    python = await asyncio.to_thread(_sdk_python)
    ticker = sim.exchange.tickers[0]
    example_book(sim, ticker)
    sim.control({"action": "whale", "market_ticker": ticker, "count": "500.00", "taker_side": "yes"})
    example_book(sim, ticker)
    process = await asyncio.create_subprocess_exec(
        str(python),
        str(SCRIPT),
        sim.rest_url,
        KEY_ID,
        str(sim_key[0]),
        ticker,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, f"the SDK refused a simulator response:\n{stderr.decode()[-4000:]}"
    out = json.loads(stdout)

    assert len(out["markets"]) == 2 and out["markets_cursor"]
    assert out["markets_rest"] == len(sim.exchange.markets) - 2
    assert out["market"] == ticker and out["market_status"] == "active"
    assert out["orderbook_yes"] == [["0.4100", "1200.00"], ["0.4300", "850.00"]]
    assert out["orderbook_no_levels"] == 3
    assert out["trades"] >= 1
    assert out["filled"]["fill_count"] == "25.00" and out["filled"]["remaining_count"] == "0.00"
    assert out["resting"]["fill_count"] == "0.00" and out["resting"]["remaining_count"] == "10.00"
    assert out["resting_status"] == "resting"
    assert out["orders"] == 2
    assert out["canceled"] == {"order_id": out["resting"]["order_id"], "reduced_by": "10.00"}
    assert out["fills"] == [{"order_id": out["filled"]["order_id"], "count_fp": "25.00", "is_taker": True}]
    assert out["positions"] == [{"ticker": ticker, "position_fp": "-25.00"}]
    # 25 NO at 0.57 = $14.25 plus the taker fee 0.07 x 25 x 0.43 x 0.57 = $0.428925 -> $0.4290:
    # $1,000 -> $985.3210, reported in whole cents truncated.
    assert (out["balance_before"], out["balance_after"]) == (100_000, 98_532)
    assert out["exchange_active"] is True
