"""One active runner per market set: a second `run_feeds` waits as a hot standby, its
markets listed, and takes over when the active one is killed, backfilling the trades
nobody saw from the dead runner's persisted mark (real Postgres, real processes)."""

import asyncio
import os
import signal
import sys

import pytest
from django.conf import settings

from tests.trading.feed.harness import WAIT
from trading.models import FeedHeartbeat, StateTransition, TradeMark, WhaleTrade
from trading.simulator.server import SimConfig, SimulatorServer

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db(transaction=True)]


class FeedProcess:
    """`manage.py run_feeds` in a subprocess, its log lines collected as they come."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._new_line = asyncio.Event()

    async def start(self, sim_port: int, ticker: str) -> "FeedProcess":
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "v3site.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "V3_DATA_DIR": str(settings.DATA_DIR),
            "CHANNELS_PREFIX": os.environ.get("CHANNELS_PREFIX", "asgi"),
            "KALSHI_ENV": "sim",
            "SIM_PORT": str(sim_port),
            "FEED_STATUS_INTERVAL": "1",
        }
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "manage.py",
            "run_feeds",
            "--markets",
            ticker,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self._new_line.set()

    async def wait_for_line(self, text: str) -> None:
        async def scan() -> None:
            while not any(text in line for line in self.lines):
                self._new_line.clear()
                await self._new_line.wait()

        try:
            await asyncio.wait_for(scan(), WAIT * 2)
        except TimeoutError:
            raise AssertionError(f"{self.name} never logged {text!r}:\n" + "\n".join(self.lines)) from None

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), WAIT * 2)
        await self._reader
        return code


async def _count(to_state: str) -> int:
    return await StateTransition.objects.filter(to_state=to_state).acount()


def _line_index(process: FeedProcess, text: str) -> int:
    return next(n for n, line in enumerate(process.lines) if text in line)


async def _poll(what: str, check) -> None:
    """Wait until the async ``check()`` holds (a database row, which no event announces)."""
    for _ in range(int(WAIT * 20)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _marked(ticker: str) -> None:
    """The active runner has persisted where it saw the tape of ``ticker`` last."""
    await _poll("a trade mark", TradeMark.objects.filter(market_ticker=ticker).aexists)


async def _recorded(trade_id: str) -> None:
    await _poll("the whale", WhaleTrade.objects.filter(trade_id=trade_id).aexists)
    assert await WhaleTrade.objects.filter(trade_id=trade_id).acount() == 1


async def test_standby_takes_over_when_the_active_runner_is_killed():
    sim = SimulatorServer(SimConfig(markets=2, seed=3, rate=200, whale_rate=0.0))
    await sim.start()
    ticker = sim.exchange.tickers[0]
    active = standby = None
    try:
        active = await FeedProcess("active").start(sim.port, ticker)
        await active.wait_for_line("acquired: this runner is active")
        await active.wait_for_line("ready -> trading")
        standby = await FeedProcess("standby").start(sim.port, ticker)
        await standby.wait_for_line("waiting as standby")
        assert not any("acquired" in line for line in standby.lines)
        listed = _line_index(standby, "following 1 markets")
        assert listed < _line_index(standby, "waiting as standby"), "the standby lists its markets before the lock"
        await _marked(ticker)

        active.proc.kill()  # no graceful stop: the process just dies
        # Traded while no runner is active: only the standby's backfill can find it.
        whale = sim.control({"action": "whale", "market_ticker": ticker, "count": "50000.00"})["trade"]
        assert await active.stop() == -signal.SIGKILL
        await standby.wait_for_line("acquired: this runner is active")
        await standby.wait_for_line("ready -> trading")
        assert await _count("trading") == 2
        assert await _count("shutdown") == 0, "the killed runner had no chance to say goodbye"
        await standby.wait_for_line("trade backfill: backfilled")
        await _recorded(whale["trade_id"])
        beat = await FeedHeartbeat.objects.aget()
        assert beat.pid == standby.proc.pid and beat.state != "shutdown"

        assert await standby.stop() == 0
        assert any("feed runner stopped: SIGTERM" in line for line in standby.lines)
        last = await StateTransition.objects.order_by("-id").afirst()
        assert (last.to_state, last.reason) == ("shutdown", "SIGTERM")
    finally:
        for process in (active, standby):
            if process is not None and process.proc.returncode is None:
                process.proc.kill()
                await process.proc.wait()
        await sim.stop()
