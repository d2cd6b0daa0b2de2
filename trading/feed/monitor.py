"""The health monitor and the status reporter of the feed runner.

Each component owns ``health() -> ComponentHealth`` (docs/architecture.md); the monitor
only asks them, announces changes as ``system_activity`` and lets the state
machine follow. The reporter sends ``trader_status`` on a fixed period, and
``trading_state`` only when its version changed, at most once a second, woken
by change events (fills, orders, decisions) instead of polling.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from trading import events, publisher
from trading.feed.state import StateMachine
from trading.health import ComponentHealth, Criticality

logger = logging.getLogger(__name__)

# Health is cheap to compute (counters and clocks), so check often: a dead feed
# should show within a couple of seconds.
HEALTH_INTERVAL = 1.0
# trader_status cadence: often enough for a status bar, rare enough to persist.
STATUS_INTERVAL = 10.0
# trading_state at most this often, however fast fills arrive.
TRADING_STATE_MIN_INTERVAL = 1.0


class HasHealth(Protocol):
    def health(self) -> ComponentHealth: ...


def _safe_health(component: HasHealth) -> ComponentHealth:
    try:
        return component.health()
    except Exception as exc:  # a broken health check is itself a finding, never a crash
        logger.exception("health() of %r failed", component)
        name = getattr(component, "name", type(component).__name__)
        return ComponentHealth(str(name), False, Criticality.CRITICAL, f"health check failed: {exc}")


class HealthMonitor:
    def __init__(self, components: list[HasHealth], machine: StateMachine, *, interval: float = HEALTH_INTERVAL):
        self.components = components
        self.machine = machine
        self.interval = interval
        self.latest: list[ComponentHealth] = []

    def check(self) -> list[ComponentHealth]:
        self.latest = [_safe_health(component) for component in self.components]
        return self.latest

    async def tick(self) -> list[ComponentHealth]:
        """One check: announce components whose health flipped, then let the state machine follow."""
        before = {c.name: c.healthy for c in self.latest}
        results = self.check()
        for c in results:
            if c.name in before and before[c.name] != c.healthy:
                word = "recovered" if c.healthy else f"unhealthy ({c.criticality}): {c.detail}"
                await publisher.apublish(
                    events.SYSTEM_ACTIVITY,
                    events.activity(
                        source="health",
                        level="info" if c.healthy else "warning",
                        message=f"{c.name} {word}",
                        details={"component": c.name, "healthy": c.healthy},
                    ),
                )
        await self.machine.apply_health(results)
        return results

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("health monitor tick failed")
            await asyncio.sleep(self.interval)


TradingStateLoader = Callable[[], Awaitable[tuple[int, dict[str, Any]] | None]]


class StatusReporter:
    def __init__(
        self,
        snapshot: Callable[[], dict[str, Any]],
        *,
        load_trading_state: TradingStateLoader | None = None,
        interval: float = STATUS_INTERVAL,
        trading_min_interval: float = TRADING_STATE_MIN_INTERVAL,
    ) -> None:
        self.snapshot = snapshot
        self.load_trading_state = load_trading_state
        self.interval = interval
        self.trading_min_interval = trading_min_interval
        self.trading_version: int | None = None
        self._trading_changed = asyncio.Event()
        self.status_sent = 0
        self.trading_sent = 0

    async def send_status(self) -> int:
        self.status_sent += 1
        return await publisher.apublish(events.TRADER_STATUS, self.snapshot())

    def trading_changed(self, _event: object = None) -> None:
        """Something that can change positions, orders or balance happened: check the version soon."""
        self._trading_changed.set()

    async def send_trading_state_if_changed(self) -> bool:
        if self.load_trading_state is None:
            return False
        loaded = await self.load_trading_state()
        if loaded is None or loaded[0] == self.trading_version:
            return False
        self.trading_version, data = loaded
        self.trading_sent += 1
        await publisher.apublish(events.TRADING_STATE, data)
        return True

    async def run_status(self) -> None:
        while True:
            try:
                await self.send_status()
            except Exception:
                logger.exception("trader_status failed")
            # The periodic status also catches version changes made elsewhere
            # (an operator's pause in another process) that sent no event here.
            self.trading_changed()
            await asyncio.sleep(self.interval)

    async def run_trading_state(self) -> None:
        while True:
            await self._trading_changed.wait()
            self._trading_changed.clear()
            started = time.monotonic()
            try:
                await self.send_trading_state_if_changed()
            except Exception:
                logger.exception("trading_state failed")
            await asyncio.sleep(max(0.0, self.trading_min_interval - (time.monotonic() - started)))
