"""The browsers' WebSocket (``/ws/events/``): authentication, groups, JSON in and out.

Protocol, in order (event shapes: trading.events, docs/architecture.md "Message types"):

1. anonymous users are closed with 4401; the origin is checked in asgi.py
   (dashboard.origin); a user's sockets beyond WS_MAX_CONNECTIONS_PER_USER, in all
   web processes together (dashboard.presence), are accepted and closed with 4429;
2. ``connection`` (user, server time, protocol version, may this user control trading);
3. ``history_replay`` (trading.selectors.history_replay); with ``?last_event_id=N``
   its ``events`` are every persisted event after N, else the recent activity (and
   ``gap`` when N was asked for but the history no longer holds what followed it);
   a replay over 256 KB continues in ``history_page`` messages (dashboard.replay_pages).
   A ``last_event_id`` that is not an integer from 0 to 2**63 - 1 gets an ``error``
   before a fresh replay;
4. live events, forwarded as the finished texts the publisher made (serialize once),
   never one that the replay already carried; they reach the process once per group
   and are fanned out to its browsers there (dashboard.hub);
5. ``ping`` every DASHBOARD_PING_INTERVAL seconds; the browser answers
   ``{"type": "pong", "seq": n}`` or is closed (4408) when DASHBOARD_PING_TIMEOUT passes.

The socket follows its session: when it ends (logout, password change,
deactivation, SESSION_MAX_AGE) the socket closes with 4401, and a socket whose
user could control trading and no longer may closes with 4403 (the browser
reconnects at once and watches on without the controls). Revocations arrive on
the user's group (dashboard.revocation); every DASHBOARD_SESSION_CHECK_INTERVAL
the session is re-read anyway.

Browser commands are JSON objects with a ``type`` and an optional ``ref`` echoed
in the reply: ``pause``, ``resume``, ``kill`` (permission trading.control_trading,
checked against the database, with the session, each time one runs),
``subscribe_market`` / ``unsubscribe_market`` with a ``ticker``. Each gets a
``command_result`` or an ``error``. Every frame but the pong to the current ping
spends the command budget (DASHBOARD_COMMAND_BURST / _RATE), malformed ones too;
the first frame over it gets ``rate_limited``, the next are dropped unanswered, and
MAX_REFUSED_IN_A_ROW of them close the socket (4429).
"""

import asyncio
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from dashboard import presence, replay_pages, revocation, sessions
from dashboard.feedwatch import ensure_watching
from dashboard.health import stats
from dashboard.hub import hub_for
from dashboard.outbox import Outbox, OutboxOverflow
from dashboard.protocol import CommandError, TokenBucket, last_event_id, parse_command
from trading import events, selectors
from trading.execution import control
from trading.feed import price_history, watches

logger = logging.getLogger(__name__)

# Application close codes (4000-4999 are the application's).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_PING_TIMEOUT = 4408
CLOSE_TOO_SLOW = 4409
CLOSE_TOO_MANY = 4429

CONTROL_PERMISSION = "trading.control_trading"
# Market panels one browser may follow at once: each is a group subscription.
MAX_MARKETS = 20
TICKER = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Frames refused in a row, over the command budget, before the socket is closed: the
# page's own commands are clicks, so a browser told to slow down that keeps sending
# this many more is broken or hostile (3,000 bad frames once got 3,000 replies).
MAX_REFUSED_IN_A_ROW = 50


class EventsConsumer(AsyncWebsocketConsumer):
    # Groups are joined through the process's hub (dashboard.hub), not per channel:
    # EVENTS_GROUP before the replay is read, the user's own group (revocations),
    # market groups on request.
    groups: list[str] = []

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.session_key = self.scope["session"].session_key
        self.socket_id = uuid.uuid4().hex
        if not await presence.slots().claim(user.pk, self.socket_id, limit=settings.DASHBOARD.max_connections_per_user):
            stats.refused_too_many += 1
            logger.warning(
                "events socket of %s refused: %d already open",
                user.get_username(),
                settings.DASHBOARD.max_connections_per_user,
            )
            # Accepted first, so that the browser sees the code (a refused handshake is only an HTTP 403).
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.hub = hub_for(self.channel_layer)
        ensure_watching(self.hub)
        self.joined: set[str] = set()
        self.tasks: list[asyncio.Task] = []
        self.closing = False
        self.closed = False
        self.outbox = Outbox(settings.DASHBOARD.outbox_limit)
        stats.open += 1
        stats.opened += 1
        self.bucket = TokenBucket(settings.DASHBOARD.command_burst, settings.DASHBOARD.command_rate)
        self.refused_in_a_row = 0
        self.ping_seq = 0
        self.pong = asyncio.Event()
        self.replayed: set[int] = set()
        self.checking: asyncio.Task | None = None
        self.check_again = False
        self.can_control = False
        # Live events that arrive while the replay is read wait here, then go
        # through the id filter: none is lost, none is sent twice or before the replay.
        self.early: list[dict[str, Any]] | None = []
        self.commands: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {
            "pause": self.control_command,
            "resume": self.control_command,
            "kill": self.control_command,
            "subscribe_market": self.subscribe_market,
            "unsubscribe_market": self.unsubscribe_market,
        }
        try:
            await self.start()
        except Exception:  # a failed start must not leave a socket counted and joined
            logger.exception("events socket of %s failed to start", user.get_username())
            await self.finish(1011)

    async def start(self) -> None:
        # Revocations first, then the user read again: a logout or a lost permission
        # between the handshake's authentication and this join is not missed.
        await self.join(revocation.user_group(self.user.pk))
        user = await sessions.session_user(self.session_key)
        if user is None or user.pk != self.user.pk:
            await self.finish(CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.can_control = await database_sync_to_async(user.has_perm)(CONTROL_PERMISSION)
        # Join first, read the replay second: whatever is published in between
        # waits in ``early`` and is deduplicated by id.
        await self.join(events.EVENTS_GROUP)
        await self.accept()
        self.outbox.put(
            events.envelope(
                events.CONNECTION,
                {
                    "user": user.get_username(),
                    "is_staff": user.is_staff,
                    "can_control": self.can_control,
                    "server_time": time.time(),
                    "protocol_version": selectors.PROTOCOL_VERSION,
                    "ping_interval": settings.DASHBOARD.ping_interval,
                    "mode": settings.KALSHI.trading_mode,
                },
            )
        )
        try:
            last_seen = last_event_id(self.scope.get("query_string", b""))
        except CommandError as exc:
            logger.info("events socket of %s: %s; replaying recent history", user.get_username(), exc)
            self.outbox.put(events.envelope(events.ERROR, {"code": exc.code, "message": str(exc), "ref": None}))
            last_seen = None
        replay = await database_sync_to_async(selectors.history_replay)(last_seen)
        self.replayed = {e["id"] for e in replay["events"]} | {
            replay[kind]["id"] for kind in (events.TRADING_STATE, events.TRADER_STATUS) if replay[kind]
        } - {0}
        for text in replay_pages.replay_messages(replay):
            self.queue(text)
        early, self.early = self.early or [], None
        for message in early:
            self.forward(message)
        if not self.closing:
            self.tasks += [
                asyncio.create_task(self.write(), name="events-socket-write"),
                asyncio.create_task(self.keepalive(), name="events-socket-ping"),
                asyncio.create_task(self.watch_session(), name="events-socket-session"),
            ]

    async def disconnect(self, code: int) -> None:
        await self.cleanup()

    # Outgoing.

    def on_group_message(self, message: dict[str, Any]) -> None:
        """From the hub: a finished envelope to queue as it is, or a revocation to check."""
        if message.get("type") == revocation.SESSION_CHECK:
            self.on_session_check(message.get("ended", ""))
            return
        if message.get("type") != events.BROADCAST:
            logger.warning("events socket: group message of unknown type %r ignored", message.get("type"))
            return
        if self.early is None:
            self.forward(message)
        elif len(self.early) < self.outbox.limit:
            self.early.append(message)
        else:
            self.early.clear()
            self.overflow("replay read too slowly")

    def forward(self, message: dict[str, Any]) -> None:
        """A live envelope (``events.group_message``), unless the replay already carried it."""
        if self.replayed and (replayed_id := message["id"]) in self.replayed:
            self.replayed.discard(replayed_id)
            return
        self.queue(message["text"], market=message["market"])

    def queue(self, text: str, *, market: str | None = None) -> None:
        if self.closing:
            return
        try:
            self.outbox.put(text, market=market)
        except OutboxOverflow as exc:
            self.overflow(str(exc))

    def overflow(self, why: str) -> None:
        """Too much waiting for this browser: close it; it resumes by event id."""
        stats.closed_too_slow += 1
        logger.warning("events socket of %s too slow (%s): closing it", self.user.get_username(), why)
        self.close_soon(CLOSE_TOO_SLOW)

    async def write(self) -> None:
        while True:
            await self.send(text_data=await self.outbox.get())

    async def keepalive(self) -> None:
        """Ping, jittered so that browsers connected together do not ping together."""
        interval = settings.DASHBOARD.ping_interval
        while True:
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            # Any publish that raced the replay has arrived by now.
            self.replayed.clear()
            self.ping_seq += 1
            self.pong.clear()
            self.queue(events.envelope(events.PING, {"seq": self.ping_seq}))
            try:
                await asyncio.wait_for(self.pong.wait(), settings.DASHBOARD.ping_timeout)
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
        current = asyncio.current_task()
        for task in [*self.tasks, self.checking]:
            if task is not None and task is not current:
                task.cancel()
        self.closing = True
        if not self.closed:
            self.closed = True
            stats.open -= 1
            stats.market_superseded += self.outbox.coalesced
            await presence.slots().release(self.user.pk, self.socket_id)
        if any(group.startswith(events.MARKET_GROUP_PREFIX) for group in self.joined):
            await self.unwatch()
        for group in list(self.joined):
            await self.leave(group)

    # The session.

    async def watch_session(self) -> None:
        """Re-read the session now and then (jittered, like pings), and renew this
        socket's claim on its user's socket count with it."""
        interval = settings.DASHBOARD.session_check_interval
        while True:
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))
            if await self.check_session():
                await presence.slots().claim(
                    self.user.pk, self.socket_id, limit=settings.DASHBOARD.max_connections_per_user
                )
                await self.renew_watches()
            else:
                return

    def on_session_check(self, ended: str) -> None:
        """A revocation for this user: close at once if it ended this socket's session,
        else re-check (one check at a time; one more if asked again meanwhile)."""
        if self.closing:
            return
        if ended and ended == sessions.session_fingerprint(self.session_key):
            self.end_session("logged out")
        elif self.checking is not None and not self.checking.done():
            self.check_again = True
        else:
            self.checking = asyncio.create_task(self.recheck(), name="events-socket-recheck")

    async def recheck(self) -> None:
        self.check_again = True
        while self.check_again and not self.closing:
            self.check_again = False
            await self.check_session()

    async def check_session(self) -> bool:
        """Whether this socket may stay open; closes it (4401 / 4403) when it may not."""
        try:
            user = await sessions.session_user(self.session_key)
            can_control = user is not None and await database_sync_to_async(user.has_perm)(CONTROL_PERMISSION)
        except Exception:  # a database hiccup is no reason to close; the next check decides
            logger.exception("events socket of %s: session check failed", self.user.get_username())
            return True
        if user is None or user.pk != self.user.pk:
            self.end_session("session ended")
            return False
        if self.can_control and not can_control:
            self.lose_rights()
            return False
        self.user = user
        return True

    def end_session(self, why: str) -> None:
        logger.info("events socket of %s: %s, closing", self.user.get_username(), why)
        stats.closed_session_ended += 1
        self.close_soon(CLOSE_UNAUTHENTICATED)

    def lose_rights(self) -> None:
        logger.info("events socket of %s: may no longer control trading, closing", self.user.get_username())
        stats.closed_rights_lost += 1
        self.close_soon(CLOSE_FORBIDDEN)

    def close_soon(self, code: int) -> None:
        if not self.closing:
            self.closing = True
            self.tasks.append(asyncio.create_task(self.finish(code)))

    async def join(self, group: str) -> None:
        await self.hub.join(group, self)
        self.joined.add(group)

    async def leave(self, group: str) -> None:
        self.joined.discard(group)
        await self.hub.leave(group, self)

    # Incoming.

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if getattr(self, "closing", True):
            return  # refused, or closing: nothing more is answered
        malformed = None
        try:
            command = parse_command(text_data)
        except CommandError as exc:
            command, malformed = {}, exc
        if command.get("type") == "pong" and command.get("seq") == self.ping_seq and not self.pong.is_set():
            # The answer to the current ping is free: answering pings must never get a browser closed.
            self.pong.set()
            return
        ref = command.get("ref")
        if not self.bucket.take():
            self.over_budget(ref)
            return
        self.refused_in_a_row = 0
        try:
            if malformed is not None:
                raise malformed
            if command["type"] == "pong":
                return  # a stale or repeated pong: it spent budget and needs no answer
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

    def over_budget(self, ref: Any) -> None:
        """A frame over the command budget: the first in a row is told, the rest are
        dropped unanswered and unlogged, and MAX_REFUSED_IN_A_ROW of them close the socket."""
        self.refused_in_a_row += 1
        stats.commands_refused += 1
        if self.refused_in_a_row == 1:
            logger.info("events socket of %s: rate_limited", self.user.get_username())
            self.queue(
                events.envelope(
                    events.ERROR, {"code": "rate_limited", "message": "too many commands; slow down", "ref": ref}
                )
            )
        elif self.refused_in_a_row >= MAX_REFUSED_IN_A_ROW:
            logger.warning(
                "events socket of %s: %d frames in a row over the command budget, closing",
                self.user.get_username(),
                self.refused_in_a_row,
            )
            stats.closed_abuse += 1
            self.close_soon(CLOSE_TOO_MANY)

    async def control_command(self, command: dict[str, Any]) -> dict[str, Any]:
        """pause / resume / kill through the execution side, which records who asked. The
        session and the permission are read from the database now, not from the socket's
        start: a revoked right must not survive in an open socket."""
        kind = command["type"]
        user = await sessions.session_user(self.session_key)
        if user is None or user.pk != self.user.pk:
            self.end_session(f"session ended before {kind}")
            raise CommandError("unauthenticated", "your session has ended; log in again")
        if not await database_sync_to_async(user.has_perm)(CONTROL_PERMISSION):
            logger.warning("events socket: %s may not %s trading", user.get_username(), kind)
            if self.can_control:
                self.lose_rights()
            raise CommandError("forbidden", f"you may not {kind} trading")
        self.user = user
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
        # Kalshi's tickers are upper case: "kxbtc-26" typed in the watch box means KXBTC-26.
        ticker = self.ticker(command).upper()
        why_not = await database_sync_to_async(watches.why_unwatchable)(ticker)
        if why_not is not None:
            raise CommandError("unknown_market", why_not)
        group = events.market_group(ticker)
        markets = self.joined - {events.EVENTS_GROUP, revocation.user_group(self.user.pk)}
        if group not in markets and len(markets) >= MAX_MARKETS:
            raise CommandError("too_many_markets", f"at most {MAX_MARKETS} markets at once")
        await self.join(group)
        await self.watch(ticker)
        return {"ok": True, "ticker": ticker, "history": await price_history.load(ticker)}

    async def unsubscribe_market(self, command: dict[str, Any]) -> dict[str, Any]:
        ticker = self.ticker(command).upper()
        await self.leave(events.market_group(ticker))
        await self.unwatch(ticker)
        return {"ok": True, "ticker": ticker}

    # Watched markets: the feed runner keeps their books (trading.feed.book_markets).

    async def watch(self, ticker: str) -> None:
        try:
            await database_sync_to_async(watches.watch_market)(
                socket_id=self.socket_id, ticker=ticker, ttl=presence.slot_ttl()
            )
        except Exception:  # the panel still gets what the runner publishes; the book may come later
            logger.exception("events socket: recording the watch of %s failed", ticker)

    async def unwatch(self, ticker: str | None = None) -> None:
        try:
            await database_sync_to_async(watches.unwatch_market)(socket_id=self.socket_id, ticker=ticker)
        except Exception:  # the watch expires on its own
            logger.exception("events socket: removing the watch of %s failed", ticker or "its markets")

    async def renew_watches(self) -> None:
        try:
            await database_sync_to_async(watches.renew_watches)(socket_id=self.socket_id, ttl=presence.slot_ttl())
        except Exception:  # renewed at the next check, before the watches expire
            logger.exception("events socket: renewing its watches failed")
