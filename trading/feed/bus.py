"""The feed runner's in-process event bus: typed events from the feed to its parts.

Publishers never wait for subscribers. ``publish_nowait`` puts an event on one
bounded queue and returns; a dispatcher task hands each event to every
subscriber's own bounded inbox, and each subscriber runs in its own task, so a
raising or hanging subscriber delays nobody else. Market data may be dropped
when the queue or an inbox is full (counted, surfaced in health); whales and
every other event never are: ``await publish(event)`` waits for room instead
(backpressure). A subscriber whose calls keep timing out is disabled and
reported, not retried forever. Owners remove all their subscriptions with
``unsubscribe_all(owner)``.
"""

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from trading.feed.aio import cancel_and_wait
from trading.health import ComponentHealth, Criticality

logger = logging.getLogger(__name__)

# The shared queue: 10,000 events is ~1 s of the busiest feed we benchmark, so a
# full queue means the dispatcher is really behind, not a burst.
QUEUE_SIZE = 10_000
# Per-subscriber inbox; a subscriber this far behind loses market data, not whales.
INBOX_SIZE = 2_000
# Utilization above which the bus warns and reports itself unhealthy.
HIGH_WATER = 0.8
# A subscriber call longer than this is a timeout; after this many in a row the
# subscriber is disabled (a stuck consumer must not keep eating its inbox's time).
CALL_TIMEOUT = 2.0
MAX_CONSECUTIVE_TIMEOUTS = 3
# Errors are a rate over a sliding window, not an ever-growing counter, so health
# recovers once a subscriber stops failing.
ERROR_WINDOW = 60.0


# ---- typed events -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BusEvent:
    #: Market data may be coalesced or dropped under load; the rest may not.
    droppable: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class TradeReceived(BusEvent):
    """A public trade; integers in trading.units, ``ts`` Unix seconds from the exchange."""

    droppable: ClassVar[bool] = True
    trade_id: str
    ticker: str
    yes_price: int
    count: int
    taker_side: str
    ts: float


@dataclass(frozen=True, slots=True)
class WhaleDetected(BusEvent):
    whale_id: int
    trade_id: str
    ticker: str
    notional: int


@dataclass(frozen=True, slots=True)
class FillReceived(BusEvent):
    """One of our fills, recorded (new) from the WebSocket fill channel."""

    trade_id: str
    order_id: str
    ticker: str


@dataclass(frozen=True, slots=True)
class FeedReconnected(BusEvent):
    """Every market re-snapshotted after a connection loss: metrics start over."""

    markets: int


@dataclass(frozen=True, slots=True)
class StateChanged(BusEvent):
    from_state: str
    to_state: str
    reason: str


Callback = Callable[[Any], Awaitable[None] | None]


# ---- subscriptions ------------------------------------------------------------------


@dataclass(eq=False)
class Subscriber:
    event_type: type[BusEvent]
    callback: Callback
    owner: str
    name: str
    inbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=INBOX_SIZE))
    task: asyncio.Task | None = None
    delivered: int = 0
    dropped: int = 0
    timeouts: int = 0
    consecutive_timeouts: int = 0
    errors: deque = field(default_factory=lambda: deque(maxlen=1_000))
    disabled: bool = False

    def error_rate(self, now: float) -> float:
        """Errors per minute over the last ERROR_WINDOW seconds."""
        while self.errors and self.errors[0] < now - ERROR_WINDOW:
            self.errors.popleft()
        return len(self.errors) * 60.0 / ERROR_WINDOW

    def stats(self, now: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "owner": self.owner,
            "event": self.event_type.__name__,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "timeouts": self.timeouts,
            "errors_per_min": self.error_rate(now),
            "backlog": self.inbox.qsize(),
            "disabled": self.disabled,
        }


class EventBus:
    def __init__(
        self,
        *,
        queue_size: int = QUEUE_SIZE,
        call_timeout: float = CALL_TIMEOUT,
        max_consecutive_timeouts: int = MAX_CONSECUTIVE_TIMEOUTS,
    ) -> None:
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue(maxsize=queue_size)
        self._subscriptions: dict[type[BusEvent], list[Subscriber]] = {}
        self.call_timeout = call_timeout
        self.max_consecutive_timeouts = max_consecutive_timeouts
        self.published = 0
        self.dropped = 0
        self._warned_high = False
        self._dispatcher: asyncio.Task | None = None

    # ---- lifecycle

    def start(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name="bus-dispatch")

    async def drain(self) -> None:
        """Return once every queued event has reached every live subscriber's callback."""
        await self._queue.join()
        for sub in self.subscriptions():
            if not sub.disabled:
                await sub.inbox.join()

    async def stop(self) -> None:
        for owner in {sub.owner for sub in self.subscriptions()}:
            await self.unsubscribe_all(owner)
        if self._dispatcher is not None:
            await cancel_and_wait([self._dispatcher])
            self._dispatcher = None

    # ---- subscribing

    def subscribe(self, event_type: type[BusEvent], callback: Callback, *, owner: str, name: str = "") -> Subscriber:
        """``callback(event)`` may be sync (must be quick) or async (bounded by the call timeout)."""
        sub = Subscriber(event_type, callback, owner, name or getattr(callback, "__qualname__", repr(callback)))
        sub.task = asyncio.get_running_loop().create_task(self._run(sub), name=f"bus-{owner}-{sub.name}")
        self._subscriptions.setdefault(event_type, []).append(sub)
        return sub

    async def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._subscriptions.get(sub.event_type, [])
        if sub in subs:
            subs.remove(sub)
            if not subs:
                del self._subscriptions[sub.event_type]
        if sub.task is not None:
            await cancel_and_wait([sub.task])
            sub.task = None

    async def unsubscribe_all(self, owner: str) -> int:
        """Remove every subscription of ``owner`` and stop their tasks; returns how many."""
        mine = [sub for sub in self.subscriptions() if sub.owner == owner]
        for sub in mine:
            await self.unsubscribe(sub)
        return len(mine)

    def subscriptions(self) -> list[Subscriber]:
        return [sub for subs in self._subscriptions.values() for sub in subs]

    # ---- publishing

    def publish_nowait(self, event: BusEvent) -> bool:
        """Queue a market-data event; False (counted) when the queue is full. Never waits."""
        if not event.droppable:
            raise TypeError(f"{type(event).__name__} must not be dropped: use `await bus.publish(event)`")
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            return False
        self._accepted()
        return True

    async def publish(self, event: BusEvent) -> bool:
        """Queue any event; droppable ones as ``publish_nowait``, the others wait for room."""
        if event.droppable:
            return self.publish_nowait(event)
        await self._queue.put(event)
        self._accepted()
        return True

    def _accepted(self) -> None:
        self.published += 1
        high = self.utilization() > HIGH_WATER
        if high and not self._warned_high:
            logger.warning("event bus queue above %d%% (%d events)", HIGH_WATER * 100, self._queue.qsize())
        self._warned_high = high

    def utilization(self) -> float:
        return self._queue.qsize() / self._queue.maxsize

    # ---- delivery

    async def _dispatch(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                for sub in list(self._subscriptions.get(type(event), ())):
                    if sub.disabled:
                        continue
                    if event.droppable:
                        try:
                            sub.inbox.put_nowait(event)
                        except asyncio.QueueFull:
                            sub.dropped += 1
                            self.dropped += 1
                    else:
                        await sub.inbox.put(event)
            finally:
                self._queue.task_done()

    async def _run(self, sub: Subscriber) -> None:
        is_async = inspect.iscoroutinefunction(sub.callback)
        while True:
            event = await sub.inbox.get()
            try:
                await self._call(sub, event, is_async)
            finally:
                sub.inbox.task_done()
            if sub.disabled:
                self._discard_inbox(sub)
                return

    async def _call(self, sub: Subscriber, event: BusEvent, is_async: bool) -> None:
        try:
            if is_async:
                async with asyncio.timeout(self.call_timeout):
                    await cast(Awaitable[None], sub.callback(event))
            else:
                sub.callback(event)
        except TimeoutError:
            sub.timeouts += 1
            sub.consecutive_timeouts += 1
            logger.warning("bus subscriber %s timed out on %s", sub.name, type(event).__name__)
            if sub.consecutive_timeouts >= self.max_consecutive_timeouts:
                sub.disabled = True
                logger.error("bus subscriber %s disabled after %d timeouts in a row", sub.name, sub.timeouts)
            return
        except Exception:
            sub.errors.append(time.monotonic())
            logger.exception("bus subscriber %s failed on %s", sub.name, type(event).__name__)
            return
        sub.delivered += 1
        sub.consecutive_timeouts = 0

    def _discard_inbox(self, sub: Subscriber) -> None:
        while not sub.inbox.empty():
            sub.inbox.get_nowait()
            sub.inbox.task_done()
            sub.dropped += 1

    # ---- health

    def health(self) -> ComponentHealth:
        now = time.monotonic()
        disabled = [sub.name for sub in self.subscriptions() if sub.disabled]
        utilization = self.utilization()
        problems = []
        if utilization > HIGH_WATER:
            problems.append(f"queue {utilization:.0%} full")
        if disabled:
            problems.append(f"disabled subscribers: {', '.join(disabled)}")
        return ComponentHealth(
            "event_bus",
            not problems,
            Criticality.NON_CRITICAL,
            "; ".join(problems),
            {
                "queue_utilization": round(utilization, 4),
                "published": self.published,
                "dropped": self.dropped,
                "subscribers": [sub.stats(now) for sub in self.subscriptions()],
            },
        )
