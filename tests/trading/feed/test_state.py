"""State transitions are persisted and broadcast; health drives error/degraded and recovery."""

import pytest

from tests.trading.feed.listener import GroupListener
from trading import events
from trading.feed.state import State, StateMachine, TransitionError, health_target
from trading.health import ComponentHealth, Criticality
from trading.models import ActivityEvent, StateTransition

pytestmark = pytest.mark.django_db(transaction=True)

OK = ComponentHealth("books", True, Criticality.CRITICAL)
BOOKS_DOWN = ComponentHealth("books", False, Criticality.CRITICAL, "no message for 70 s")
TRADES_DOWN = ComponentHealth("trades", False, Criticality.NON_CRITICAL, "no trade for 6 min")


def test_health_target():
    assert health_target([OK, TRADES_DOWN], State.TRADING)[0] == State.DEGRADED
    assert health_target([BOOKS_DOWN, TRADES_DOWN], State.TRADING)[0] == State.ERROR
    assert health_target([OK], State.PAUSED) == (State.PAUSED, "all components healthy")


@pytest.mark.needs_redis
async def test_transitions_are_persisted_and_broadcast():
    listener = await GroupListener().join(events.EVENTS_GROUP)
    changes = []
    machine = StateMachine(on_change=lambda a, b, why: changes.append((a, b)))
    await machine.transition(State.INITIALIZING, "connecting", {"markets": 3})
    body = await listener.next_event(events.SYSTEM_ACTIVITY)
    row = await StateTransition.objects.aget()
    assert (row.from_state, row.to_state, row.reason, row.metadata) == (
        "startup",
        "initializing",
        "connecting",
        {"markets": 3},
    )
    assert body["data"]["details"]["from"] == "startup" and body["data"]["details"]["to"] == "initializing"
    assert (body["data"]["source"], body["data"]["level"]) == ("state", "info")
    assert body["id"] == (await ActivityEvent.objects.aget()).pk
    assert changes == [(State.STARTUP, State.INITIALIZING)]
    await listener.close()


async def test_health_drives_error_degraded_and_recovery_to_the_base_state():
    machine = StateMachine()
    await machine.transition(State.INITIALIZING, "connecting")
    await machine.transition(State.READY, "books synced")
    await machine.set_base(State.TRADING, "trading enabled")
    await machine.apply_health([BOOKS_DOWN, TRADES_DOWN])
    assert machine.state == State.ERROR
    await machine.apply_health([OK, TRADES_DOWN])
    assert machine.state == State.DEGRADED
    await machine.set_base(State.PAUSED, "operator paused")
    assert machine.state == State.DEGRADED, "health still wins over the base state"
    await machine.apply_health([OK])
    assert machine.state == State.PAUSED
    path = [(t.from_state, t.to_state) async for t in StateTransition.objects.order_by("id")]
    assert path == [
        ("startup", "initializing"),
        ("initializing", "ready"),
        ("ready", "trading"),
        ("trading", "error"),
        ("error", "degraded"),
        ("degraded", "paused"),
    ]


async def test_disallowed_transition_is_refused_and_not_persisted():
    machine = StateMachine()
    with pytest.raises(TransitionError, match="startup to trading"):
        await machine.transition(State.TRADING, "too early")
    await machine.transition(State.SHUTDOWN, "stopping")
    with pytest.raises(TransitionError):
        await machine.transition(State.READY, "after shutdown")
    assert await StateTransition.objects.acount() == 1
