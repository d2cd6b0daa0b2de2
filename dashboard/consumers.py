"""The browsers' WebSocket (``/ws/events/``): authentication, groups, JSON in and out.

Protocol, in order (event shapes: trading.events, DESIGN.md "Message types"):

1. anonymous users are closed with 4401; the origin is checked in asgi.py;
2. ``connection`` (user, server time, protocol version, may this user control trading);
3. ``history_replay`` (trading.selectors.history_replay); with ``?last_event_id=N``
   its ``events`` are every persisted event after N, else the recent activity;
4. live events, forwarded as the finished texts the publisher made (serialize once),
   never one that the replay already carried; they reach the process once per group
   and are fanned out to its browsers there (dashboard.hub);
5. ``ping`` every DASHBOARD_PING_INTERVAL seconds; the browser answers
   ``{"type": "pong", "seq": n}`` or is closed (4408) when DASHBOARD_PING_TIMEOUT passes.

Browser commands are JSON objects with a ``type`` and an optional ``ref`` echoed
in the reply: ``pause``, ``resume``, ``kill`` (permission trading.control_trading),
``subscribe_market`` / ``unsubscribe_market`` with a ``ticker``. Each gets a
``command_result`` or an ``error``; nothing a browser sends closes the socket.
"""

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dashboard.feedwatch import ensure_watching
from dashboard.health import stats
from dashboard.hub import hub_for
from dashboard.outbox import Outbox, OutboxOverflow, event_id
from trading import events, selectors
from trading.execution import control

logger = logging.getLogger(__name__)

# Application close codes (4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_PING_TIMEOUT = 4408
CLOSE_TOO_SLOW = 4409

CONTROL_PERMISSION = "trading.control_trading"
# A command is a few dozen bytes; anything far larger is a mistake or abuse.
MAX_COMMAND_CHARS = 2_000
# Market panels one browser may follow at once: each is a group subscription.
MAX_MARKETS = 20
TICKER = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


class TokenBucket:
    """``burst`` commands at once, refilled at ``rate`` a second."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst = burst
        self.rate = rate
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class CommandError(Exception):
    """A browser command that cannot be carried out; ``code`` goes to the browser."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _last_event_id(query_string: bytes) -> int | None:
    values = parse_qs(query_string.decode("latin-1")).get("last_event_id")
    if not values:
        return None
    if not (values[0].isascii() and values[0].isdigit()):
        raise CommandError("bad_last_event_id", "last_event_id must be a non-negative integer")
    return int(values[0])


class EventsConsumer(AsyncWebsocketConsumer):
    # Groups are joined through the process's hub (dashboard.hub), not per channel:
    # EVENTS_GROUP before the replay is read, market groups on request.
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.hub = hub_for(self.channel_layer)
        ensure_watching(self.hub)
        self.joined: set[str] = set()
        self.tasks: list[asyncio.Task] = []
        self.closing = False
        self.closed = False
        self.outbox = Outbox(settings.DASHBOARD_OUTBOX_LIMIT)
        stats.open += 1
        stats.opened += 1
        self.bucket = TokenBucket(settings.DASHBOARD_COMMAND_BURST, settings.DASHBOARD_COMMAND_RATE)
        self.ping_seq = 0
        self.pong = asyncio.Event()
        self.replayed: set[int] = set()
        # Live events that arrive while the replay is read wait here, then go
        # through the id filter: none is lost, none is sent twice or before the replay.
        self.early: list[str] | None = []
        self.commands: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "pause": self.control_command,
            "resume": self.control_command,
            "kill": self.control_command,
            "subscribe_market": self.subscribe_market,
            "unsubscribe_market": self.unsubscribe_market,
        }

        # Join first, read the replay second: whatever is published in between
        # waits in ``early`` and is deduplicated by id.
        await self.join(events.EVENTS_GROUP)
        await self.accept()
        can_control = await database_sync_to_async(user.has_perm)(CONTROL_PERMISSION)
        self.outbox.put(
            events.envelope(
                events.CONNECTION,
                {
                    "user": user.get_username(),
                    "is_staff": user.is_staff,
                    "can_control": can_control,
                    "server_time": time.time(),
                    "protocol_version": selectors.PROTOCOL_VERSION,
                    "ping_interval": settings.DASHBOARD_PING_INTERVAL,
                    "mode": settings.TRADING_MODE,
                },
            )
        )
        try:
            last_seen = _last_event_id(self.scope.get("query_string", b""))
        except CommandError as exc:
            logger.info("events socket of %s: %s; replaying recent history", user.get_username(), exc)
            self.outbox.put(events.envelope(events.ERROR, {"code": exc.code, "message": str(exc), "ref": None}))
            last_seen = None
        replay = await database_sync_to_async(selectors.history_replay)(last_seen)
        self.replayed = {e["id"] for e in replay["events"]} | {
            replay[kind]["id"] for kind in (events.TRADING_STATE, events.TRADER_STATUS) if replay[kind]
        } - {0}
        self.outbox.put(events.envelope(events.HISTORY_REPLAY, replay))
        early, self.early = self.early, None
        for text in early:
            self.forward(text)
        if not self.closing:
            self.tasks += [
                asyncio.create_task(self.write(), name="events-socket-write"),
                asyncio.create_task(self.keepalive(), name="events-socket-ping"),
            ]

    async def disconnect(self, code: int) -> None:
        await self.cleanup()

    # Outgoing.

    def on_group_message(self, message: dict[str, Any]) -> None:
        """From the hub: a group message holding a finished envelope; queue the text as it is."""
        if message.get("type") != events.BROADCAST:
            logger.warning("events socket: group message of unknown type %r ignored", message.get("type"))
            return
        if self.early is None:
            self.forward(message["text"])
        elif len(self.early) < self.outbox.limit:
            self.early.append(message["text"])
        else:
            self.early.clear()
            self.overflow("replay read too slowly")

    def forward(self, text: str) -> None:
        """A live envelope, unless the replay already carried it."""
        if self.replayed and (replayed_id := event_id(text)) in self.replayed:
            self.replayed.discard(replayed_id)
            return
        self.queue(text)

    def queue(self, text: str) -> None:
        if self.closing:
            return
        try:
            self.outbox.put(text)
        except OutboxOverflow as exc:
            self.overflow(str(exc))

    def overflow(self, why: str) -> None:
        """Too much waiting for this browser: close it; it resumes by event id."""
        stats.closed_too_slow += 1
        logger.warning("events socket of %s too slow (%s): closing it", self.user.get_username(), why)
        self.closing = True
        self.tasks.append(asyncio.create_task(self.finish(CLOSE_TOO_SLOW)))

    async def write(self) -> None:
        while True:
            await self.send(text_data=await self.outbox.get())

    async def keepalive(self) -> None:
        """Ping, jittered so that browsers connected together do not ping together."""
        interval = settings.DASHBOARD_PING_INTERVAL
        while True:
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            # Any publish that raced the replay has arrived by now.
            self.replayed.clear()
            self.ping_seq += 1
            self.pong.clear()
            self.queue(events.envelope(events.PING, {"seq": self.ping_seq}))
            try:
                await asyncio.wait_for(self.pong.wait(), settings.DASHBOARD_PING_TIMEOUT)
            except TimeoutError:
                logger.info("events socket of %s: no pong for ping %d, closing", self.user, self.ping_seq)
                stats.closed_no_pong += 1
                self.closing = True
                await self.finish(CLOSE_PING_TIMEOUT)
                return

    async def finish(self, code: int) -> None:
        """Close from the server side, releasing groups and tasks at once."""
        await self.cleanup()
        await self.close(code=code)

    async def cleanup(self) -> None:
        if not hasattr(self, "outbox"):
            return  # refused before it was set up
        if not self.closed:
            self.closed = True
            stats.open -= 1
            stats.market_superseded += self.outbox.coalesced
        self.closing = True
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        for group in list(self.joined):
            await self.leave(group)

    async def join(self, group: str) -> None:
        await self.hub.join(group, self)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        self.joined.discard(group)
        await self.hub.leave(group, self)

    # Incoming.

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        ref = None
        try:
            command = self.parse(text_data)
            ref = command.get("ref")
            if command["type"] == "pong":
                # Free of the rate limit: answering pings must never get a browser closed.
                if command.get("seq") == self.ping_seq:
                    self.pong.set()
                return
            if not self.bucket.take():
                raise CommandError("rate_limited", "too many commands; slow down")
            handler = self.commands.get(command["type"])
            if handler is None:
                raise CommandError("unknown_command", f"unknown command {command['type'][:40]!r}")
            result = await handler(command)
        except CommandError as exc:
            stats.commands_refused += 1
            logger.info("events socket of %s: %s (%s)", self.user.get_username(), exc.code, exc)
            self.queue(events.envelope(events.ERROR, {"code": exc.code, "message": str(exc), "ref": ref}))
            return
        self.queue(events.envelope(events.COMMAND_RESULT, {"command": command["type"], "ref": ref, **result}))

    @staticmethod
    def parse(text_data: str | None) -> dict[str, Any]:
        if text_data is None:
            raise CommandError("malformed", "commands are JSON text frames, not binary")
        if len(text_data) > MAX_COMMAND_CHARS:
            raise CommandError("malformed", f"command longer than {MAX_COMMAND_CHARS} characters")
        try:
            command = orjson.loads(text_data)
        except orjson.JSONDecodeError as exc:
            raise CommandError("malformed", "command is not valid JSON") from exc
        if not isinstance(command, dict) or not isinstance(command.get("type"), str):
            raise CommandError("malformed", 'a command is a JSON object with a string "type"')
        if not isinstance(command.get("ref"), int | str | None):
            raise CommandError("malformed", '"ref" must be a string or an integer')
        return command

    async def control_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """pause / resume / kill through the execution side, which records who asked."""
        kind = command["type"]
        if not await database_sync_to_async(self.user.has_perm)(CONTROL_PERMISSION):
            logger.warning("events socket: %s may not %s trading", self.user.get_username(), kind)
            raise CommandError("forbidden", f"you may not {kind} trading")
        action = {"pause": control.pause, "resume": control.resume, "kill": control.kill}[kind]
        try:
            outcome = await database_sync_to_async(action)(user=self.user)
        except Exception as exc:  # the execution side's failure is reported, never a dropped socket
            logger.exception("events socket: %s by %s failed", kind, self.user.get_username())
            raise CommandError("command_failed", f"{kind} failed: {type(exc).__name__}") from exc
        logger.info("events socket: %s %s trading", self.user.get_username(), kind)
        if isinstance(outcome, control.KillResult):
            return {"ok": True, "canceled": outcome.canceled, "failed": outcome.failed}
        return {"ok": True, "paused": outcome.paused, "killed": outcome.killed}

    def ticker(self, command: dict[str, Any]) -> str:
        ticker = command.get("ticker")
        if not isinstance(ticker, str) or not TICKER.match(ticker):
            raise CommandError("bad_ticker", "ticker must be 1-100 letters, digits, '.', '_' or '-'")
        return ticker

    async def subscribe_market(self, command: dict[str, Any]) -> dict[str, Any]:
        ticker = self.ticker(command)
        group = events.market_group(ticker)
        if group not in self.joined and sum(g != events.EVENTS_GROUP for g in self.joined) >= MAX_MARKETS:
            raise CommandError("too_many_markets", f"at most {MAX_MARKETS} markets at once")
        await self.join(group)
        return {"ok": True, "ticker": ticker}

    async def unsubscribe_market(self, command: dict[str, Any]) -> dict[str, Any]:
        ticker = self.ticker(command)
        await self.leave(events.market_group(ticker))
        return {"ok": True, "ticker": ticker}
