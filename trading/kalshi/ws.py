"""Kalshi market-data WebSocket client (PROTOCOL.md 3-6), asyncio.

Public API (the feed runner builds on this)::

    client = KalshiWebSocket(url, signer)          # or KalshiWebSocket.from_settings()
    task = client.start()                          # background run(): connect, read, reconnect
    await client.connected.wait()
    book_sub = await client.subscribe(["orderbook_delta"], ["KXBTCD-26DEC3117-T99999.99"])
    trades = await client.subscribe(["trade"])      # no tickers: the whole exchange
    listener = client.listen(Trade, UserFill)          # bounded queue of typed messages
    msg = await listener.get()
    client.books["KXBTCD-26DEC3117-T99999.99"]     # trading.orderbook.OrderBook, kept current
    await client.add_markets(book_sub, [...]); await client.delete_markets(book_sub, [...])
    await client.unsubscribe(trades)
    client.health(); client.metrics.to_dict()
    await client.close()

``KalshiWebSocket`` puts together one module per job, each of which says how it behaves:
trading.kalshi.connection (the signed, reconnecting socket, backoff, commands and their
replies), trading.kalshi.subscriptions (``Subscription``, the per-sid sequence checks),
trading.kalshi.books (``client.books``), trading.kalshi.listeners (``client.listen``,
bounded queues, drops) and trading.kalshi.feed_metrics (``client.metrics``). This module
reads every message and decides what it means for them, and why:

* After a reconnect every subscription is sent again on fresh sids and every book is
  stale until its new snapshot: a reconnect is a resync, not a resume.
* On a sequence gap in an ``orderbook_delta`` subscription every book of that sid goes
  stale, ``update_subscription get_snapshot`` asks for all its markets, deltas for stale
  books are dropped, and each fresh snapshot re-anchors the sequence. Gaps on other
  sequenced channels (trades, lifecycle) cannot be repaired: they are counted and the
  sequence re-anchors. Duplicates are ignored and data on a sid that is not ours is
  dropped, each counted (``metrics.duplicates``, ``metrics.stray``).
* Error replies raise ``KalshiWsError`` (code, Kalshi's text, our meaning) from the
  command that caused them; errors 10 and 25 on a live subscription resubscribe it.
* A frame that does not parse is logged and counted (``metrics.parse_errors``) and
  the stream goes on; when the broken frame still had a sid/seq, the sequence is
  accounted for, and a broken order-book frame resyncs its subscription.
* ``health()`` is unhealthy while disconnected or when no frame has arrived for
  ``stale_after`` seconds (30): Kalshi's ping cadence alone does not prove liveness
  (PROTOCOL 3). Its metrics are ``metrics`` plus message age and stale books.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.books import Books
from trading.kalshi.connection import KalshiConnection, Pending
from trading.kalshi.feed_metrics import FeedMetrics
from trading.kalshi.listeners import DEFAULT_QUEUE_SIZE, Listener, Listeners
from trading.kalshi.signing import Signer
from trading.kalshi.subscriptions import IN_ORDER, SeqCheck, SequenceState, Subscription

log = logging.getLogger(__name__)

ORDERBOOK_CHANNEL = "orderbook_delta"


class KalshiWsError(Exception):
    """Kalshi answered a command (or a subscription) with an ``error`` message."""

    def __init__(self, error: m.Error):
        self.code = error.code
        self.message = error.msg.msg
        self.meaning = error.meaning
        self.error = error
        super().__init__(f"Kalshi WebSocket error {self.code}: {self.message} ({self.meaning})")


class FrameSink(Protocol):
    def write(self, frame: bytes) -> None: ...


class KalshiWebSocket:
    def __init__(
        self,
        url: str,
        signer: Signer,
        *,
        name: str = "kalshi_ws",
        max_attempts: int = 10,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        stale_after: float = 30.0,
        open_timeout: float = 10.0,
        command_timeout: float = 10.0,
        recorder: FrameSink | None = None,
    ) -> None:
        """``recorder`` gets every raw frame received, before it is parsed (``run_feeds --record``)."""
        self.name = name
        self.recorder = recorder
        self.stale_after = stale_after
        self.books = Books()
        self.metrics = FeedMetrics()
        self.subscriptions: list[Subscription] = []
        self.connection = KalshiConnection(
            url,
            signer,
            name=name,
            metrics=self.metrics,
            on_open=self._on_open,
            on_frame=self._on_frame,
            on_close=self._on_close,
            max_attempts=max_attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            open_timeout=open_timeout,
            command_timeout=command_timeout,
        )
        self.connected = self.connection.connected

        self._sequences = SequenceState()
        self._listeners = Listeners(self.metrics)
        self._last_message: float | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            m.OrderbookDelta: self._on_delta,
            m.OrderbookSnapshot: self._on_snapshot,
            m.Trade: self._on_sequenced,
            m.MarketLifecycle: self._on_sequenced,
            m.EventLifecycle: self._on_sequenced,
            m.EventFeeUpdate: self._on_ignored,
            m.MultivariateLifecycle: self._on_ignored,
            m.Ticker: self._on_unsequenced,
            m.UserFill: self._on_unsequenced,
            m.UserOrder: self._on_unsequenced,
            m.MarketPosition: self._on_unsequenced,
            m.Subscribed: self._on_subscribed,
            m.Unsubscribed: self._on_unsubscribed,
            m.Ok: self._on_ok,
            m.Error: self._on_error,
        }

    @classmethod
    def from_settings(cls, **options: Any) -> "KalshiWebSocket":
        """A client for the configured environment (trading.kalshi.environments)."""
        from trading.kalshi.environments import kalshi_endpoints

        endpoints = kalshi_endpoints()
        return cls(endpoints.ws_url, endpoints.signer, **options)

    # The connection's options, read back.
    @property
    def url(self) -> str:
        return self.connection.url

    @property
    def signer(self) -> Signer:
        return self.connection.signer

    @property
    def max_attempts(self) -> int:
        return self.connection.max_attempts

    @property
    def base_delay(self) -> float:
        return self.connection.base_delay

    @property
    def max_delay(self) -> float:
        return self.connection.max_delay

    # ---- lifecycle -------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the connection in a background task (kept by the client, so it is not garbage collected)."""
        return self.connection.start()

    async def run(self) -> None:
        """Connect, read until closed, reconnect with backoff; returns after ``close()``."""
        await self.connection.run()

    async def close(self) -> None:
        await self.connection.close()

    def _on_open(self) -> None:
        self._last_message = time.monotonic()
        for sub in self.subscriptions:
            self._send_subscribe(sub, None)

    def _on_close(self) -> None:
        self._sequences.clear()
        for sub in self.subscriptions:
            sub.reset()
        self.books.mark_stale()

    # ---- commands --------------------------------------------------------------

    async def subscribe(
        self, channels: Sequence[str], market_tickers: Sequence[str] = (), **options: Any
    ) -> Subscription:
        """Subscribe now (or on connect); returns once Kalshi confirmed every channel.

        ``KalshiWsError`` if Kalshi refuses (the subscription is then forgotten);
        ``TimeoutError`` or ``ConnectionError`` (the connection dropped first) leave it
        registered, to be sent again on the next connection.
        """
        channels, tickers = tuple(channels), list(dict.fromkeys(market_tickers))
        if ORDERBOOK_CHANNEL in channels:
            if not tickers:
                raise ValueError("orderbook_delta needs market tickers (Kalshi error 14 otherwise)")
            self.books.claim(tickers)
            # The book model keeps NO bids at NO prices; Kalshi will flip this default, so send it.
            options.setdefault("use_yes_price", False)
        sub = Subscription(channels, tickers, options)
        self.subscriptions.append(sub)
        if self.connected.is_set():
            future = asyncio.get_running_loop().create_future()
            self._send_subscribe(sub, future)
            try:
                await self.connection.wait(future)
            except KalshiWsError:
                self._forget(sub)
                raise
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        self._forget(sub)
        if self.connected.is_set() and sub.sids:
            sids = list(sub.sids.values())
            future = asyncio.get_running_loop().create_future()
            pending = Pending("unsubscribe", sub, future, replies_left=len(sids))
            self.connection.command("unsubscribe", {"sids": sids}, pending)
            await self.connection.wait(future)

    async def add_markets(self, sub: Subscription, market_tickers: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(market_tickers) if t not in sub.market_tickers]
        if ORDERBOOK_CHANNEL in sub.channels:
            self.books.claim(new)
        sub.market_tickers.extend(new)
        await self._update_markets(sub, "add_markets", new)

    async def delete_markets(self, sub: Subscription, market_tickers: Sequence[str]) -> None:
        gone = [t for t in dict.fromkeys(market_tickers) if t in sub.market_tickers]
        sub.market_tickers[:] = [t for t in sub.market_tickers if t not in gone]
        if ORDERBOOK_CHANNEL in sub.channels:
            self.books.release(gone)
        await self._update_markets(sub, "delete_markets", gone)

    async def list_subscriptions(self) -> list[m.SubscriptionInfo]:
        future = asyncio.get_running_loop().create_future()
        self.connection.command("list_subscriptions", None, Pending("list_subscriptions", None, future))
        ok = await self.connection.wait(future)
        return ok[0].subscriptions

    def listen(self, *types: type, maxsize: int = DEFAULT_QUEUE_SIZE) -> Listener:
        """A bounded queue of the given message types (default: every data message)."""
        return self._listeners.add(frozenset(types or m.DATA_TYPES), maxsize)

    def unlisten(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def _forget(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)
        if ORDERBOOK_CHANNEL in sub.channels:
            self.books.release(sub.market_tickers)
        for sid in sub.sids.values():
            self._sequences.release(sid)

    async def _update_markets(self, sub: Subscription, action: str, tickers: list[str]) -> None:
        if not tickers or not self.connected.is_set():
            return  # the market list goes with the subscription on the next connect
        if not sub.active:
            # Its subscribe went out before this change: let it land, then update it.
            await asyncio.wait_for(sub.ready.wait(), self.connection.command_timeout)
        futures = []
        for sid in sub.sids.values():
            future = asyncio.get_running_loop().create_future()
            params = {"sid": sid, "action": action, "market_tickers": tickers}
            self.connection.command("update_subscription", params, Pending(action, sub, future))
            futures.append(future)
        for future in futures:
            await self.connection.wait(future)

    def _send_subscribe(self, sub: Subscription, future: asyncio.Future[Any] | None) -> None:
        sub.reset()
        params = m.subscribe_params(list(sub.channels), sub.market_tickers, **sub.options)
        self.connection.command("subscribe", params, Pending("subscribe", sub, future, replies_left=len(sub.channels)))

    # ---- reading ---------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        metrics = self.metrics
        metrics.messages += 1
        metrics.bytes += len(frame)
        self._last_message = time.monotonic()
        if self.recorder is not None:
            self.recorder.write(frame)
        try:
            msg = m.parse(frame)
        except m.ParseError as exc:
            self._on_parse_error(exc)
            return
        try:
            self._handlers[type(msg)](msg)
        except Exception:
            # A bug in handling one message must not end the feed; it is loud instead.
            log.exception("%s: failed to handle %s", self.name, type(msg).__name__)
            metrics.parse_errors += 1

    def _on_parse_error(self, exc: m.ParseError) -> None:
        self.metrics.parse_errors += 1
        if isinstance(exc, m.UnknownMessageType):
            self.metrics.unknown_types += 1
        log.warning("%s: %s", self.name, exc)
        if exc.sid is None or exc.seq is None:
            return
        if exc.type in ("orderbook_delta", "orderbook_snapshot"):
            # A book message we could not read is a lost one: the book must be rebuilt.
            self.metrics.gaps += 1
            self._resync(exc.sid)
        else:
            self._in_sequence(exc.sid, exc.seq, anchors=True)

    def _in_sequence(self, sid: int, seq: int, anchors: bool) -> bool:
        """Seq accounting for one sid; False when the message must not be applied."""
        outcome = self._sequences.check(sid, seq, anchors=anchors)
        return outcome is IN_ORDER or self._not_in_order(outcome, sid, seq, anchors)

    def _not_in_order(self, outcome: SeqCheck, sid: int, seq: int, anchors: bool) -> bool:
        """Counted; True only for a gap the message is applied after anyway."""
        if outcome is SeqCheck.DUPLICATE:
            self.metrics.duplicates += 1
        elif outcome is SeqCheck.STRAY:
            self.metrics.stray += 1
        elif outcome is SeqCheck.UNANCHORED:
            self.metrics.dropped_deltas += 1
        else:
            return self._on_gap(sid, seq, anchors)
        return False

    def _on_gap(self, sid: int, seq: int, anchors: bool) -> bool:
        """A book's gap resyncs its subscription (a delta is then dropped, a snapshot applied);
        other channels cannot be repaired and go on from this seq."""
        self.metrics.gaps += 1
        expected = self._sequences.expected(sid)
        log.warning("%s: seq gap on sid %d: expected %d, got %d", self.name, sid, expected, seq)
        owner = self._sequences.owner(sid)
        if owner is not None and owner[1] == ORDERBOOK_CHANNEL:
            self._resync(sid)
            if not anchors:
                self.metrics.dropped_deltas += 1
                return False
        self._sequences.anchor(sid, seq)
        return True

    def _resync(self, sid: int) -> None:
        """Stale books, fresh snapshots: deltas are dropped until each market's snapshot re-anchors the sid."""
        self._sequences.unanchor(sid)
        owner = self._sequences.owner(sid)
        if owner is None:
            return
        sub = owner[0]
        self.books.mark_stale(sub.market_tickers)
        self.metrics.resyncs += 1
        if sub.market_tickers and self.connection.is_open:
            params = {"sid": sid, "action": "get_snapshot", "market_tickers": list(sub.market_tickers)}
            self.connection.command("update_subscription", params, Pending("get_snapshot", sub, None))

    def _on_snapshot(self, msg: m.OrderbookSnapshot) -> None:
        if msg.id:
            self.connection.pending.pop(msg.id, None)
        if not self._in_sequence(msg.sid, msg.seq, anchors=True):
            return
        self.books.apply_snapshot(msg.msg)
        self._listeners.deliver(msg)

    def _on_delta(self, msg: m.OrderbookDelta) -> None:
        # _in_sequence inlined: most frames are in-order deltas, and the call it saves was ~3 %
        # of a delta's cost in the client (0.1 of 3.6 µs, measured on recorded frames).
        outcome = self._sequences.check(msg.sid, msg.seq, anchors=False)
        if outcome is not IN_ORDER and not self._not_in_order(outcome, msg.sid, msg.seq, False):
            return
        if not self.books.apply_delta(msg.msg):
            self.metrics.dropped_deltas += 1
            return
        self._listeners.deliver(msg)

    def _on_sequenced(self, msg: Any) -> None:
        if msg.seq is None or self._in_sequence(msg.sid, msg.seq, anchors=True):
            self._listeners.deliver(msg)

    def _on_ignored(self, msg: Any) -> None:
        """Known, of no use to the project (messages.IGNORED_TYPES): its seq is accounted, it is counted."""
        self.metrics.ignored += 1
        if msg.seq is not None:
            self._in_sequence(msg.sid, msg.seq, anchors=True)

    def _on_unsequenced(self, msg: Any) -> None:
        if self._sequences.owns(msg.sid):
            self._listeners.deliver(msg)
        else:
            self.metrics.stray += 1

    def _on_subscribed(self, msg: m.Subscribed) -> None:
        entry = self.connection.pending.get(msg.id)
        if entry is not None and entry.subscription is not None:
            entry.subscription.confirm(msg.msg.channel, msg.msg.sid)
            self._sequences.own(msg.msg.sid, entry.subscription, msg.msg.channel)
        self.connection.resolve(msg.id, msg)
        self._listeners.deliver(msg)

    def _on_unsubscribed(self, msg: m.Unsubscribed) -> None:
        self._sequences.release(msg.sid)
        self.connection.resolve(msg.id, msg)
        self._listeners.deliver(msg)

    def _on_ok(self, msg: m.Ok) -> None:
        self._reply_seq(msg)
        self.connection.resolve(msg.id, msg)
        self._listeners.deliver(msg)

    def _reply_seq(self, msg: m.Ok | m.Error) -> None:
        """PROTOCOL 5: a reply's seq is either the sid's last data seq (the usual case, not a
        duplicate) or a new number; anything else is a gap like any other."""
        if msg.sid is None or msg.seq is None:
            return
        expected = self._sequences.expected(msg.sid)
        if expected is not None and msg.seq != expected - 1:
            self._in_sequence(msg.sid, msg.seq, anchors=True)

    def _on_error(self, msg: m.Error) -> None:
        self.metrics.error_replies += 1
        self._reply_seq(msg)
        error = KalshiWsError(msg)
        entry = self.connection.pending.pop(msg.id, None) if msg.id else None
        log.warning("%s: %s (command %s, sid %s)", self.name, error, entry.cmd if entry else msg.id, msg.sid)
        if entry is not None:
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(error)
            elif entry.cmd == "get_snapshot" and entry.subscription is not None:
                # Nobody awaits a resync: if Kalshi refuses it, subscribe afresh instead.
                self._restart(entry.subscription, dead_sid=None)
            elif entry.cmd == "subscribe" and entry.subscription is not None:
                # A resubscribe after a reconnect that Kalshi now refuses cannot work later either.
                log.error("%s: dropping subscription %s: %s", self.name, entry.subscription.channels, error)
                self._forget(entry.subscription)
        elif msg.sid is not None and msg.code in m.TERMINAL_ERROR_CODES:
            owner = self._sequences.owner(msg.sid)
            if owner is not None:
                self._restart(owner[0], dead_sid=msg.sid)
        self._listeners.deliver(msg)

    def _restart(self, sub: Subscription, *, dead_sid: int | None) -> None:
        """Subscribe a broken subscription again (its books stale until new snapshots); its
        other sids are unsubscribed first, ``dead_sid`` being already gone on Kalshi's side."""
        live = [sid for sid in sub.sids.values() if sid != dead_sid]
        for sid in sub.sids.values():
            self._sequences.release(sid)
        if ORDERBOOK_CHANNEL in sub.channels:
            self.books.mark_stale(sub.market_tickers)
        if not self.connection.is_open:
            return
        if live:
            pending = Pending("unsubscribe", None, None, replies_left=len(live))
            self.connection.command("unsubscribe", {"sids": live}, pending)
        self._send_subscribe(sub, None)

    # ---- health ----------------------------------------------------------------

    def message_age(self) -> float | None:
        return None if self._last_message is None else time.monotonic() - self._last_message

    def health(self) -> ComponentHealth:
        age = self.message_age()
        if not self.connected.is_set():
            failures = self.connection.failures
            healthy, detail = False, f"disconnected ({failures} failed attempts since the last connection)"
        elif age is None or age > self.stale_after:
            healthy, detail = False, f"no message for {age or 0:.0f} s"
        else:
            healthy, detail = True, f"connected, last message {age:.1f} s ago"
        metrics: dict[str, Any] = self.metrics.to_dict()
        metrics.update(message_age_s=age, books=len(self.books), stale_books=self.books.stale_count())
        return ComponentHealth(self.name, healthy, Criticality.CRITICAL, detail, metrics)
