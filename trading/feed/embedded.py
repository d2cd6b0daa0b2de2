"""The embedded default in one process and one event loop: daphne serving the
site, the exchange simulator, the feed runner, and whale execution (Celery runs
eagerly, on the feed's whale thread). One loop because the in-memory channel
layer only reaches consumers on the loop that sends (docs/architecture.md "Processes").

Daphne runs on Twisted's asyncio reactor; everything else is scheduled on that
reactor's loop before it starts, and a SIGTERM/SIGINT stops the feed and the
simulator gracefully before the web server goes.

There are no workers and no celery beat here, so this process also does beat's
work: it reconciles with the exchange when it starts and every
``EXEC_RECONCILE_INTERVAL`` seconds (the simulator starts empty each time while
the SQLite database keeps the last run's orders, so without it they would stay
"resting" forever), prunes the replay log every ``ACTIVITY_PRUNE_INTERVAL`` and
fills in whale outcomes every ``OUTCOME_FILL_INTERVAL``.

The demo's markets close and settle after ``SIM_MARKET_LIFETIME`` (five minutes unless
set), each replaced by a new listing the feed runner follows, so positions settle and
P&L is realized while a new user watches; a market is followed while it has a fifth of
its life left (``demo_rules``), and outcomes settle and fill the Strategy page.
"""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from django.conf import settings

from trading import retention
from trading.config import RuleConfig
from trading.execution import reconciliation
from trading.feed.aio import cancel_and_wait
from trading.feed.service import StartupFailed, Stop, serve
from trading.feed.threads import fresh_connection
from trading.outcomes.services import fill_outcomes
from trading.simulator.server import SimConfig, SimulatorServer

logger = logging.getLogger(__name__)

# Simulated markets in the demo close and settle after five minutes (one every 5 / N
# minutes of N markets, staggered), so a new user sees positions settle in the first
# minutes rather than never; SIM_MARKET_LIFETIME sets it (0 = never).
DEMO_MARKET_LIFETIME = 300.0

# Daphne closes every WebSocket after 24 h by default (docs/architecture.md pitfalls); the
# dashboard resumes by event id anyway, but there is no reason to cut it.
WEBSOCKET_TIMEOUT = -1


def run_all(
    *,
    host: str,
    port: int,
    sim: SimConfig,
    explicit: Sequence[str],
    count: int,
    on_ready: Callable[[], None] | None = None,
) -> str:
    """Serve until SIGTERM/SIGINT; returns why the feed stopped. ``StartupFailed`` when a
    port is taken or the feed cannot start (or the run failed later)."""
    # daphne.server installs Twisted's asyncio reactor on import, so it comes first.
    from daphne.server import Server, twisted_loop

    from v3site.asgi import application

    # One process: the decisions made here read this (trading.execution.services).
    settings.EXECUTION = replace(settings.EXECUTION, rules=demo_rules(settings.EXECUTION.rules, sim.market_lifetime_s))
    server = Server(
        application,
        endpoints=[f"tcp:port={port}:interface={host}"],
        signal_handlers=False,
        websocket_timeout=WEBSOCKET_TIMEOUT,
        ready_callable=on_ready,
    )
    outcome: list[str] = []
    failures: list[str] = []

    async def main() -> None:
        stop = Stop()
        stop.on_signals()
        simulator = SimulatorServer(sim)
        try:
            await simulator.start()
        except OSError as exc:
            failures.append(f"the simulator cannot listen on {sim.host}:{sim.port}: {exc.strerror or exc}")
            server.stop()
            return
        beat: list[asyncio.Task] = []
        try:
            beat += [
                asyncio.create_task(_every(settings.EXECUTION.reconcile_interval, _reconcile), name="reconcile"),
                asyncio.create_task(_every(settings.RETENTION.prune_interval, _prune), name="prune-activity"),
                asyncio.create_task(_every(settings.EXECUTION.outcome_interval, _outcomes), name="fill-outcomes"),
            ]
            outcome.append(await serve(explicit=explicit, count=count, stop=stop))
        except StartupFailed as exc:
            failures.append(str(exc))
        except Exception as exc:
            logger.exception("embedded run failed")
            failures.append(f"the embedded run failed: {exc!r}")
        finally:
            await cancel_and_wait(beat)
            await simulator.stop()
            server.stop()

    twisted_loop.call_soon(twisted_loop.create_task, main())
    server.run()
    if not server.listening_addresses:
        raise StartupFailed(f"the web server cannot listen on {host}:{port} (is another process using it?)")
    if failures:
        raise StartupFailed(failures[0])
    return outcome[0] if outcome else "web server stopped"


async def _every(interval: float, job: Callable[[], object]) -> None:
    """``job`` on a thread now and every ``interval`` seconds; a failed pass waits for the next."""
    while True:
        try:
            await asyncio.to_thread(job)
        except Exception:
            logger.exception("%s failed; next pass in %.0f s", job.__name__, interval)
        await asyncio.sleep(interval)


@fresh_connection
def _reconcile() -> None:
    reconciliation.reconcile()


@fresh_connection
def _outcomes() -> None:
    fill_outcomes()


@fresh_connection
def _prune() -> None:
    retention.prune_activity(keep_seconds=settings.RETENTION.activity_retention)


def default_sim_config(*, markets: int, rate: float, whale_rate: float) -> SimConfig:
    """The simulator where ``KALSHI_ENV=sim`` settings look for it, so the feed and execution find it;
    its markets live ``SIM_MARKET_LIFETIME`` seconds, ``DEMO_MARKET_LIFETIME`` when that is unset."""
    lifetime = settings.KALSHI.sim_market_lifetime
    return SimConfig(
        host=settings.KALSHI.sim_host,
        port=settings.KALSHI.sim_port,
        markets=markets,
        rate=rate,
        whale_rate=whale_rate,
        market_lifetime_s=DEMO_MARKET_LIFETIME if lifetime is None else lifetime,
    )


def demo_rules(rules: RuleConfig, market_lifetime: float) -> RuleConfig:
    """The decision rules for markets that live ``market_lifetime`` seconds: a market must have
    at least a fifth of its life left (or ``EXEC_MIN_TIME_TO_CLOSE``, if shorter) to be
    followed, since the 15-minute default would skip every whale of a 5-minute market."""
    if not market_lifetime:
        return rules
    return replace(rules, min_time_to_close=min(rules.min_time_to_close, market_lifetime / 5))
