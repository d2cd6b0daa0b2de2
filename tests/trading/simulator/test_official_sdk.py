"""Kalshi's official Python SDK (kalshi-python-async 3.34.0), unchanged, against the
simulator: its pydantic models validate every response, so this proves the simulator
returns every field the SDK requires, in Kalshi's units.

The SDK needs Python >= 3.13 (on 3.11 pip silently installs 3.2.0, which speaks the
retired API), so ``make sdk`` (a step of ``make test``) builds a 3.13 venv in .venv-sdk/
(gitignored) from pyenv's or Debian's python3.13, and the test runs sdk_script.py there:
every route of the trading surface, through to a settlement. Without that venv it skips
with the reason, and fails instead when V3_REQUIRE_SERVICES=1 (CI), so CI cannot pass by skipping.
"""

import asyncio
import json
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


def _sdk_python() -> Path:
    """The venv's interpreter with the SDK installed (``make sdk`` builds it; ``make test`` does first)."""
    python = VENV / "bin" / "python"
    check = "import kalshi_python_async as k; assert k.__version__ == '3.34.0'"
    if not python.exists() or subprocess.run([python, "-c", check], capture_output=True, timeout=60).returncode:
        _unavailable(f"{SDK} is not installed in {VENV}: run `make sdk` (it needs a Python 3.13, pyenv's or Debian's)")
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
        f"http://{sim.config.host}:{sim.port}/sim/control",
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
    assert out["exchange_active"] is True and out["trading_active"] is True
    assert out["schedule_weeks"] == 1
    assert out["events"] == len({m.event_ticker for m in sim.exchange.markets.values()})
    assert out["event"] == {"event_ticker": sim.exchange.markets[ticker].event_ticker, "markets": 1}
    assert out["series"] == 4 and out["series_fee_type"] == "quadratic"
    assert out["batch_created"] == ["2.00", "2.00"]
    assert (out["amended_remaining"], out["decreased_remaining"]) == ("3.00", "1.00")
    assert out["batch_canceled"] == ["3.00"]
    assert out["resting_after_cancel_all"] == 0
    # The market settles NO: the 25 NO contracts pay $25.00 (2,500 cents).
    assert out["settlements"] == [{"ticker": ticker, "market_result": "no", "revenue": 2500, "no_count": "25.00"}]
    assert out["settled_market"] == {"status": "finalized", "result": "no"}
    assert out["balance_settled"] == out["balance_after"] + 2500
