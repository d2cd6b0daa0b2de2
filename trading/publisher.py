"""Publishing browser-bound events to Channels groups (docs/architecture.md "Message types").

Every event goes out in the envelope of ``trading.events``, serialized once; the
group message carries the finished text and consumers forward it unchanged.
Persisted types (``events.PERSISTED_TYPES``) are stored as ``ActivityEvent``
first, so the envelope id is the row's pk and a late joiner can be replayed
"everything after N"; they are sent only after the surrounding transaction
commits (``transaction.on_commit``), so a browser never sees a rolled-back row.

API
---
``publish(event_type, data, *, groups=None) -> int``
    Sync, for Celery workers and Django code (never from a running event loop:
    it touches the ORM). Stores persisted types inside the caller's transaction,
    and hands the send to the one long-lived ``Publisher`` after commit. Returns
    the envelope id (the ActivityEvent pk, or 0 for transient types). Never waits
    for the channel layer.
``await apublish(event_type, data, *, groups=None) -> int``
    Async, for the feed loop: stores persisted types off the loop, then sends on
    the caller's loop. Errors of the channel layer are counted and logged, never raised.
``await apublish_market(ticker, data)`` / ``publish_market(ticker, data)``
    A transient ``market`` event (already coalesced by the caller) to
    ``events.market_group(ticker)`` only: browsers join a market's group for the
    panels they show (``subscribe_market``), so nobody receives every market.
``get_publisher().attach(loop)``
    Make the sync path send on ``loop`` instead of the publisher's own thread.
    Needed with the in-memory channel layer (embedded default, ``run_all``),
    whose queues belong to the one loop that serves the browsers.

``groups`` defaults to ``[events.EVENTS_GROUP]``.

Why one long-lived publisher: ``async_to_sync(layer.group_send)`` per call runs
each send on a fresh event loop, so channels_redis opens and drops Redis
connections per event and "Event loop is closed" errors follow (channels_redis
issues 125 and 332). Here one daemon thread owns one loop and the layer's
connections for the life of the process, and sends in publish order.
"""

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from trading import events
from trading.background_loop import BackgroundLoop
from trading.health import ComponentHealth, Criticality
from trading.models import ActivityEvent

logger = logging.getLogger(__name__)

# Sends waiting for the layer. A browser-facing backlog this deep means the layer
# is down or far too slow; beyond it transient events are dropped (counted) and
# persisted ones are still replayable from ActivityEvent.
MAX_PENDING = 10_000
# How long shutdown waits for queued sends before giving up (and counting them).
FLUSH_TIMEOUT = 5.0

_Send = tuple[tuple[str, ...], dict[str, Any]]


def _groups(groups: Iterable[str] | None) -> tuple[str, ...]:
    return (events.EVENTS_GROUP,) if groups is None else tuple(groups)


def store(event_type: str, data: dict[str, Any], ts: float) -> int:
    """Persist one event if its type is replayable; return its envelope id (0 when transient)."""
    if event_type not in events.PERSISTED_TYPES:
        return 0
    return ActivityEvent.objects.create(type=event_type, ts=ts, data=data).pk


class Publisher:
    """Owns the loop that sends to the channel layer, and the counters for health."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._background = BackgroundLoop("publisher")
        self._attached: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Send | None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.consecutive_failures = 0
        self.last_error = ""

    # The loop the sync path sends on.

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send on ``loop`` (running, or about to run) from now on."""
        with self._lock:
            self._attached = loop
            self._start_drain(loop)

    def _start_drain(self, loop: asyncio.AbstractEventLoop) -> None:
        # The queue is created on the loop itself; sends are scheduled with
        # call_soon_threadsafe after this callback, so they always find it.
        self._loop = loop

        def start() -> None:
            self._queue = asyncio.Queue(maxsize=MAX_PENDING)
            loop.create_task(self._drain(self._queue), name="publisher-drain")

        loop.call_soon_threadsafe(start)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        """The attached loop while it lives, else the process's own publisher loop
        (a new one after a fork); the drain follows whichever it is."""
        with self._lock:
            attached = self._attached
            loop = attached if attached is not None and not attached.is_closed() else self._background.loop()
            if loop is not self._loop:
                self._start_drain(loop)
            return loop

    async def _drain(self, queue: "asyncio.Queue[_Send | None]") -> None:
        layer = get_channel_layer()
        while True:
            item = await queue.get()
            try:
                if item is None:
                    return
                await self._send(layer, *item)
            finally:
                queue.task_done()

    async def _send(self, layer: Any, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception as exc:  # the layer's errors (Redis down, ...) must not stop publishing
                self.failed += 1
                self.consecutive_failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                logger.warning("publish to group %s failed: %s", group, self.last_error)
            else:
                self.sent += 1
                self.consecutive_failures = 0

    # Entry points.

    def enqueue(self, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        """Queue one group message (``events.group_message``, or a consumer-side notice)
        for the sending loop; safe from any thread."""
        loop = self._ensure_loop()
        loop.call_soon_threadsafe(self._put, (groups, message))

    def _put(self, item: _Send) -> None:
        if self._queue is None:
            self.dropped += 1
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            logger.warning("publisher backlog full (%d): event dropped", MAX_PENDING)

    async def send_now(self, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        """Send on the caller's loop (the feed loop), counting failures instead of raising."""
        await self._send(get_channel_layer(), groups, message)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait (from a thread other than the sending loop's) until queued sends are done."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return True
        if not loop.is_running():
            # An attached loop that has stopped (the embedded server's, at exit) sends nothing more.
            return self._queue is None or self._queue.empty()
        done = threading.Event()

        async def wait() -> None:
            # Read on the loop: a drain just started there makes its queue before this runs.
            if self._queue is not None:
                await self._queue.join()
            done.set()

        try:
            asyncio.run_coroutine_threadsafe(wait(), loop)
        except RuntimeError:
            return True
        return done.wait(timeout)

    async def drained(self) -> None:
        """On the sending loop itself: return when queued sends are done (callers bound the wait)."""
        if self._queue is not None:
            await self._queue.join()

    def health(self) -> ComponentHealth:
        backlog = self._queue.qsize() if self._queue is not None else 0
        healthy = self.consecutive_failures == 0 and backlog < MAX_PENDING
        return ComponentHealth(
            "publisher",
            healthy,
            Criticality.NON_CRITICAL,
            self.last_error if not healthy else "",
            {"sent": self.sent, "failed": self.failed, "dropped": self.dropped, "backlog": backlog},
        )


_publisher = Publisher()


def get_publisher() -> Publisher:
    return _publisher


@atexit.register
def _flush_at_exit() -> None:
    if not _publisher.flush(FLUSH_TIMEOUT):
        logger.warning("publisher: queued events not sent at exit")


def publish(event_type: str, data: dict[str, Any], *, groups: Iterable[str] | None = None) -> int:
    """Store (if persisted) and, after commit, send one event. Sync code only."""
    ts = time.time()
    event_id = store(event_type, data, ts)
    message = events.group_message(events.envelope(event_type, data, event_id=event_id, ts=ts), event_id=event_id)
    targets = _groups(groups)
    transaction.on_commit(lambda: _publisher.enqueue(targets, message))
    return event_id


async def apublish(event_type: str, data: dict[str, Any], *, groups: Iterable[str] | None = None) -> int:
    """Store (if persisted, off the loop) and send one event on the running loop."""
    ts = time.time()
    event_id = await sync_to_async(store)(event_type, data, ts) if event_type in events.PERSISTED_TYPES else 0
    text = events.envelope(event_type, data, event_id=event_id, ts=ts)
    await _publisher.send_now(_groups(groups), events.group_message(text, event_id=event_id))
    return event_id


def publish_market(ticker: str, data: dict[str, Any]) -> None:
    """A coalesced ``market`` event to the market's group, from sync code."""
    _publisher.enqueue((events.market_group(ticker),), _market_message(ticker, data))


async def apublish_market(ticker: str, data: dict[str, Any]) -> None:
    """A coalesced ``market`` event to the market's group, from the feed loop."""
    await _publisher.send_now((events.market_group(ticker),), _market_message(ticker, data))


def _market_message(ticker: str, data: dict[str, Any]) -> dict[str, Any]:
    return events.group_message(events.envelope(events.MARKET, data), market=ticker)
