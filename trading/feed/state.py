"""The trader's state machine (docs/architecture.md "States").

``startup -> initializing -> ready <-> trading``, with ``paused``, ``degraded``
(a non-critical component unhealthy), ``error`` (a critical one) and
``shutdown``. Every transition is persisted (``StateTransition``) and broadcast
as ``system_activity`` in one transaction. Health decides between ``error``,
``degraded`` and the state the trader would be in if all were well (its *base*:
``ready``, ``trading`` or ``paused``), so recovery goes back where it was.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction

from trading import alerts, events, publisher
from trading.health import ComponentHealth, Criticality
from trading.models import StateTransition

logger = logging.getLogger(__name__)


class State(StrEnum):
    STARTUP = "startup"
    INITIALIZING = "initializing"
    READY = "ready"
    TRADING = "trading"
    PAUSED = "paused"
    DEGRADED = "degraded"
    ERROR = "error"
    SHUTDOWN = "shutdown"


_RUNNING = {State.READY, State.TRADING, State.PAUSED, State.DEGRADED, State.ERROR}
ALLOWED: dict[State, frozenset[State]] = {
    State.STARTUP: frozenset({State.INITIALIZING, State.ERROR, State.SHUTDOWN}),
    State.INITIALIZING: frozenset({State.READY, State.DEGRADED, State.ERROR, State.SHUTDOWN}),
    **{state: frozenset(_RUNNING - {state} | {State.INITIALIZING, State.SHUTDOWN}) for state in _RUNNING},
    State.SHUTDOWN: frozenset(),
}
# States the trader is in when everything is healthy; health overrides them.
BASE_STATES = frozenset({State.READY, State.TRADING, State.PAUSED})


class TransitionError(Exception):
    """A transition the state table does not allow; the message names both states."""


def record_transition(*, from_state: str, to_state: str, reason: str, metadata: dict[str, Any]) -> int:
    """Persist one transition and its ``system_activity`` line together; returns the event id."""
    with transaction.atomic():
        StateTransition.objects.create(from_state=from_state, to_state=to_state, reason=reason, metadata=metadata)
        if to_state == State.ERROR:
            transaction.on_commit(
                lambda: alerts.alert(alerts.STATE_ERROR, f"Trader in error ({from_state} → error): {reason}")
            )
        return publisher.publish(
            events.SYSTEM_ACTIVITY,
            events.activity(
                source="state",
                message=f"{from_state} → {to_state}: {reason}",
                details={"from": from_state, "to": to_state, "reason": reason, "metadata": metadata},
            ),
        )


def health_target(components: Iterable[ComponentHealth], base: State) -> tuple[State, str]:
    """The state health asks for, and why."""
    unhealthy = [c for c in components if not c.healthy]
    critical = [c for c in unhealthy if c.criticality == Criticality.CRITICAL]
    if critical:
        return State.ERROR, "critical unhealthy: " + ", ".join(f"{c.name} ({c.detail})" for c in critical)
    if unhealthy:
        return State.DEGRADED, "unhealthy: " + ", ".join(f"{c.name} ({c.detail})" for c in unhealthy)
    return base, "all components healthy"


class StateMachine:
    def __init__(self, *, on_change: Callable[[State, State, str], Any] | None = None) -> None:
        self.state = State.STARTUP
        self.base = State.READY
        self._lock = asyncio.Lock()
        self._on_change = on_change
        self.transitions = 0

    async def transition(self, to: State, reason: str, metadata: dict[str, Any] | None = None) -> bool:
        """Move to ``to`` (persisted and broadcast); False when already there."""
        async with self._lock:
            if to == self.state:
                return False
            if to not in ALLOWED[self.state]:
                raise TransitionError(f"no transition from {self.state} to {to} ({reason})")
            previous = self.state
            await sync_to_async(record_transition)(
                from_state=previous, to_state=to, reason=reason, metadata=metadata or {}
            )
            self.state = to
            self.transitions += 1
            logger.info("state %s -> %s: %s", previous, to, reason)
        if self._on_change is not None:
            self._on_change(previous, to, reason)
        return True

    async def set_base(self, base: State, reason: str) -> None:
        """The healthy state changed (e.g. paused by an operator); move there unless health says otherwise."""
        if base not in BASE_STATES:
            raise TransitionError(f"{base} is not a base state")
        self.base = base
        if self.state in BASE_STATES:
            await self.transition(base, reason)

    async def apply_health(self, components: list[ComponentHealth]) -> None:
        """Follow health once running: error / degraded / back to the base state."""
        if self.state not in _RUNNING:
            return
        target, reason = health_target(components, self.base)
        await self.transition(target, reason, {"unhealthy": [c.name for c in components if not c.healthy]})
