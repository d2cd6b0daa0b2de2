"""A short real run recorded, then backtested: deterministic, and a changed rule changes the follows."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.trading.backtest.recorded import WHALES, record_run

# Only the injected whales are whales: the simulator's own trades stay far below these.
WHALE_RULE = ("--set", "WHALE_MIN_NOTIONAL=10000", "--set", "WHALE_RELATIVE_FACTOR=1000000")


def backtest(*args: str) -> dict:
    """The command's JSON (it touches no database, so it runs here on the test's loop)."""
    out = io.StringIO()
    call_command("backtest", *args, *WHALE_RULE, "--json", stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


@pytest.mark.django_db(transaction=True)
async def test_backtest_twice_gives_the_same_report_and_cooldown_changes_the_follows(tmp_path):
    recording = await record_run(tmp_path, settle="yes")
    first = backtest(str(recording))
    assert backtest(str(recording)) == first

    report = first["report"]
    assert report["whales"] == WHALES
    assert report["by_reason"]["follow"]["count"] == 1
    assert report["by_reason"]["cooldown"]["count"] == WHALES - 1
    assert report["settled"] == WHALES and report["unknown"] == 0
    assert first["recording"]["unsettled_markets_with_whales"] == []
    assert report["pnl"]["what_if_follow_all"] != "0.0000"

    changed = backtest(str(recording), "--set", "EXEC_COOLDOWN=0")
    assert changed["report"]["decisions"]["follow"] == WHALES


@pytest.mark.django_db(transaction=True)
async def test_compare_runs_both_configurations_side_by_side(tmp_path):
    recording = await record_run(tmp_path)
    both = backtest(str(recording), "--compare", "EXEC_COOLDOWN=0")
    # No settlement in the recording: every outcome is unknown, and it says which market.
    assert both["a"]["report"]["unknown"] == WHALES
    assert len(both["a"]["recording"]["unsettled_markets_with_whales"]) == 1
    assert both["a"]["report"]["decisions"]["follow"] == 1
    assert both["b"]["report"]["decisions"]["follow"] == WHALES
    assert both["b"]["settings"]["EXEC_COOLDOWN"] == "0"


def test_bad_settings_and_paths_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="EXEC_COOLDOWN"):
        call_command("backtest", str(tmp_path), "--set", "EXEC_COOLDOWN=1m")
    with pytest.raises(CommandError, match="not a decision or whale setting"):
        call_command("backtest", str(tmp_path), "--set", "SECRET_KEY=x")
    with pytest.raises(CommandError, match="NAME=VALUE"):
        call_command("backtest", str(tmp_path), "--set", "EXEC_COOLDOWN")
    with pytest.raises(CommandError, match="holds no"):
        call_command("backtest", str(tmp_path))
