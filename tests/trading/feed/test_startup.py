"""A feed runner that cannot start says why in one line and exits non-zero, instead of
hanging in ``initializing`` or ending in a traceback: unknown tickers, the exchange
unreachable after the REST client's retries, out-of-range options."""

import asyncio
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.browser.server import embedded_env, free_port
from tests.simulators import quiet_simulator
from tests.trading.feed.harness import WAIT, sim_rest
from trading.feed.service import StartupFailed, Stop, serve


async def test_unknown_ticker_fails_before_anything_subscribes():
    async with quiet_simulator(2) as sim:
        async with sim_rest(sim.rest_url) as rest:
            with pytest.raises(StartupFailed, match="the exchange lists no market NOPE-1: check --markets"):
                await serve(explicit=[sim.exchange.tickers[0], "NOPE-1"], count=1, stop=Stop(), rest=rest)
        assert sim.control({"action": "status"})["connections"] == 0


async def test_unreachable_exchange_fails_after_the_rest_retries():
    url = f"http://127.0.0.1:{free_port()}/trade-api/v2"
    async with sim_rest(url, max_retries=1, base_delay=0.01) as rest:
        with pytest.raises(StartupFailed, match=rf"the exchange at {url} did not list its markets \(after 1 retries\)"):
            await serve(explicit=[], count=3, stop=Stop(), rest=rest)


def test_count_out_of_range_is_refused():
    with pytest.raises(CommandError, match=r"--count must be at least 1 \(got 0\)"):
        call_command("run_feeds", "--count", "0")


async def test_run_feeds_exits_1_with_one_line_for_an_unknown_ticker(tmp_path):
    async with quiet_simulator(2) as sim:
        env = embedded_env(tmp_path) | {"KALSHI_ENV": "sim", "SIM_PORT": str(sim.port)}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "manage.py",
            "run_feeds",
            "--markets",
            "NOPE-1",
            cwd=settings.BASE_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await asyncio.wait_for(process.communicate(), WAIT * 6))[0].decode()
    assert process.returncode == 1, output
    assert "Traceback" not in output
    assert (
        output.strip().splitlines()[-1]
        == "CommandError: the exchange lists no market NOPE-1: check --markets / V3_MARKETS"
    )
