"""The health monitor only aggregates: components flip, a line says so, the state follows.
The status reporter sends trading_state only for a version browsers have not seen."""

import pytest

from tests.trading.feed.listener import GroupListener
from trading import events, publisher
from trading.feed.monitor import HealthMonitor, StatusReporter
from trading.feed.state import State, StateMachine
from trading.health import ComponentHealth, Criticality

pytestmark = pytest.mark.django_db(transaction=True)


class Component:
    def __init__(self, name: str, criticality: Criticality) -> None:
        self.name, self.criticality, self.healthy = name, criticality, True

    def health(self) -> ComponentHealth:
        return ComponentHealth(self.name, self.healthy, self.criticality, "" if self.healthy else "down")


class Broken:
    name = "broken"

    def health(self) -> ComponentHealth:
        raise RuntimeError("bug in a health check")


async def _running_machine() -> StateMachine:
    machine = StateMachine()
    await machine.transition(State.INITIALIZING, "test")
    await machine.transition(State.READY, "test")
    return machine


@pytest.mark.needs_redis
async def test_flips_are_announced_and_the_state_follows():
    listener = await GroupListener().join(events.EVENTS_GROUP)
    books = Component("orderbooks", Criticality.CRITICAL)
    trades = Component("trades", Criticality.NON_CRITICAL)
    machine = await _running_machine()
    monitor = HealthMonitor([books, trades], machine)
    try:
        await monitor.tick()
        trades.healthy = False
        await monitor.tick()
        assert machine.state == State.DEGRADED
        line = await listener.next_event(events.SYSTEM_ACTIVITY, source="health")
        assert line["data"]["details"] == {"component": "trades", "healthy": False}
        assert line["data"]["level"] == "warning"
        books.healthy = False
        await monitor.tick()
        assert machine.state == State.ERROR
        books.healthy = trades.healthy = True
        await monitor.tick()
        assert machine.state == State.READY
        recovered = [await listener.next_event(events.SYSTEM_ACTIVITY, source="health") for _ in range(3)][1:]
        assert {(r["data"]["details"]["component"], r["data"]["details"]["healthy"]) for r in recovered} == {
            ("orderbooks", True),
            ("trades", True),
        }
    finally:
        await listener.close()


async def test_a_raising_health_check_is_an_unhealthy_critical_component():
    machine = await _running_machine()
    results = await HealthMonitor([Broken()], machine).tick()
    assert results[0].name == "broken" and not results[0].healthy and "bug" in results[0].detail
    assert machine.state == State.ERROR


async def test_trading_state_only_for_a_new_version(monkeypatch):
    versions = iter([3, 3, 4])
    sent = []

    async def load():
        version = next(versions)
        return version, {"version": version}

    async def apublish(event_type, data):
        sent.append((event_type, data["version"]))
        return 0

    monkeypatch.setattr(publisher, "apublish", apublish)
    reporter = StatusReporter(lambda: {}, load_trading_state=load)
    assert await reporter.send_trading_state_if_changed()
    assert not await reporter.send_trading_state_if_changed()
    assert await reporter.send_trading_state_if_changed()
    assert sent == [(events.TRADING_STATE, 3), (events.TRADING_STATE, 4)]
