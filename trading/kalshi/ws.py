"""Kalshi market-data WebSocket client (PROTOCOL.md 3-6), asyncio.

Public API (the feed runner builds on this)::

    client = KalshiWebSocket(url, signer)          # or KalshiWebSocket.from_settings()
    task = client.start()                          # background run(): connect, read, reconnect
    await client.connected.wait()
    book_sub = await client.subscribe(["orderbook_delta"], ["KXBTCD-26DEC3117-T99999.99"])
    trades = await client.subscribe(["trade"])      # no tickers: the whole exchange
    listener = client.listen(Trade, Fill)          # bounded queue of typed messages
    msg = await listener.get()
    client.books["KXBTCD-26DEC3117-T99999.99"]     # trading.orderbook.OrderBook, kept current
    await client.add_markets(book_sub, [...]); await client.delete_markets(book_sub, [...])
    await client.unsubscribe(trades)
    client.health(); client.metrics.to_dict()
    await client.close()

How it behaves, and why:

* Every (re)connection signs a fresh ``GET /trade-api/ws/v2`` (Kalshi refuses an
  unsigned or stale upgrade with 401). Command ids start at 1 on each connection.
* A ``Subscription`` is the client's wish (channels + markets + options); its
  ``sids`` (one per channel, from the ``subscribed`` replies) belong to the current
  connection only, and ``ready`` is set while all are confirmed. After a reconnect
  every subscription is sent again: sids and seqs are new, so a reconnect is a
  resync, not a resume. Data on a sid that is not (or no longer) ours is dropped
  and counted (``metrics.stray``): Kalshi confirms a sid before sending on it.
* Sequence numbers are checked per sid (PROTOCOL 6.1): ``seq == expected`` is in
  order, ``expected - 1`` is a duplicate and ignored, anything else is a gap. On a
  gap in an ``orderbook_delta`` subscription every book of that sid goes stale,
  ``update_subscription get_snapshot`` asks for all its markets, deltas for stale
  books are dropped, and each fresh snapshot re-anchors the sequence. Gaps on other
  sequenced channels (trades, lifecycle) cannot be repaired: they are counted and
  the sequence re-anchors.
* An order-book market belongs to one subscription at a time (two would apply each
  delta twice), so subscribing a market that is already booked is refused.
* The reader never awaits a consumer: it applies book changes itself, then offers
  each message to every interested ``Listener`` with ``put_nowait``. A full queue
  drops that message for that listener and counts it (``listener.dropped`` and
  ``metrics.drops``). For the private channels (fill, user_order, market_position)
  a drop is a missed account event: the client logs it, and the consumer must
  reconcile from REST (orders, fills, positions) whenever ``listener.dropped``
  grew, as it must after every reconnect anyway (PROTOCOL 6.5).
* Error replies raise ``KalshiWsError`` (code, Kalshi's text, our meaning) from the
  command that caused them; errors 10 and 25 on a live subscription resubscribe it.
* A frame that does not parse is logged and counted (``metrics.parse_errors``) and
  the stream goes on; when the broken frame still had a sid/seq, the sequence is
  accounted for, and a broken order-book frame resyncs its subscription.
* Reconnects back off exponentially with jitter: ``base_delay`` (1 s) doubling to
  ``max_delay`` (60 s); ``max_attempts`` consecutive failed connects (default 10,
  0 = forever) end ``run()`` with ``ConnectionFailed``; a successful connect resets
  the count. Server pings are answered by the websockets library, which also pings
  the server every 20 s and drops a connection whose pong does not come back.
* ``health()`` is unhealthy while disconnected or when no frame has arrived for
  ``stale_after`` seconds (30): Kalshi's ping cadence alone does not prove liveness
  (PROTOCOL 3). Its metrics are ``metrics`` plus message age and stale books.
"""

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.signing import Signer
from trading.orderbook import OrderBook

log = logging.getLogger(__name__)

ORDERBOOK_CHANNEL = "orderbook_delta"
# Kalshi names no frame limit for this API; a full-depth snapshot of a busy market
# is a few hundred KiB, and websockets' 1 MiB default would close the connection on
# a large one. 16 MiB bounds memory while leaving ample room.
MAX_FRAME_BYTES = 16 * 1024 * 1024
# Listener queues: ~10 s of one busy market's deltas, so a consumer that stalls for
# a moment loses nothing, while a dead one cannot grow memory without bound.
DEFAULT_QUEUE_SIZE = 10_000
# Log every Nth drop per listener: a stalled consumer must not flood the log.
DROP_LOG_EVERY = 1_000


class KalshiWsError(Exception):
    """Kalshi answered a command (or a subscription) with an ``error`` message."""

    def __init__(self, error: m.Error):
        self.code = error.code
        self.message = error.msg.msg
        self.meaning = error.meaning
        self.error = error
        super().__init__(f"Kalshi WebSocket error {self.code}: {self.message} ({self.meaning})")


class ConnectionFailed(Exception):
    """``max_attempts`` consecutive connection attempts failed."""


@dataclass
class FeedMetrics:
    messages: int = 0
    bytes: int = 0
    parse_errors: int = 0
    unknown_types: int = 0
    gaps: int = 0
    resyncs: int = 0
    duplicates: int = 0
    dropped_deltas: int = 0  # deltas for a stale book, waiting for its snapshot
    stray: int = 0  # data on a sid that is no longer ours (in flight when we resubscribed)
    drops: int = 0  # messages a full listener queue could not take
    error_replies: int = 0
    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(eq=False)
class Subscription:
    """One subscribe command's wish; ``sids`` maps channel -> sid on the current connection."""

    channels: tuple[str, ...]
    market_tickers: list[str]
    options: dict[str, Any]
    sids: dict[str, int] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event, repr=False)  # set while active

    @property
    def active(self) -> bool:
        return len(self.sids) == len(self.channels)


class Listener:
    """A bounded queue of typed messages the reader fills without waiting."""

    def __init__(self, types: frozenset[type], maxsize: int):
        self.types = types
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = 0

    async def get(self) -> Any:
        return await self.queue.get()

    def offer(self, msg: Any, metrics: FeedMetrics) -> None:
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.dropped += 1
            metrics.drops += 1
            if isinstance(msg, m.PRIVATE_TYPES) or self.dropped % DROP_LOG_EVERY == 1:
                log.warning(
                    "listener queue full (%d): dropped %s (%d dropped so far)%s",
                    self.queue.maxsize,
                    type(msg).__name__,
                    self.dropped,
                    "; reconcile orders/fills/positions from REST" if isinstance(msg, m.PRIVATE_TYPES) else "",
                )


@dataclass
class _Pending:
    cmd: str
    subscription: Subscription | None
    future: asyncio.Future[Any] | None
    replies_left: int = 1
    result: list[Any] = field(default_factory=list)


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
    ) -> None:
        self.url = url
        self.signer = signer
        self.name = name
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stale_after = stale_after
        self.open_timeout = open_timeout
        self.command_timeout = command_timeout
        self.path = urlsplit(url).path or "/"

        self.books: dict[str, OrderBook] = {}
        self.metrics = FeedMetrics()
        self.connected = asyncio.Event()
        self.subscriptions: list[Subscription] = []

        self._listeners: list[Listener] = []
        self._routes: dict[type, list[Listener]] = {}
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._next_id = 1
        self._pending: dict[int, _Pending] = {}
        self._expected: dict[int, int] = {}  # sid -> next seq; absent = not anchored
        self._sid_owner: dict[int, tuple[Subscription, str]] = {}
        self._last_message: float | None = None
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._failures = 0
        self._handlers = {
            m.OrderbookDelta: self._on_delta,
            m.OrderbookSnapshot: self._on_snapshot,
            m.Trade: self._on_sequenced,
            m.MarketLifecycle: self._on_sequenced,
            m.EventLifecycle: self._on_sequenced,
            m.Ticker: self._on_unsequenced,
            m.Fill: self._on_unsequenced,
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

    # ---- lifecycle -------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run the connection in a background task (kept here, so it is not garbage collected)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self.run(), name=f"{self.name}.run")
        return self._task

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            # gather: the run task's own CancelledError is a result here, while a
            # cancellation of our caller still propagates.
            await asyncio.gather(self._task, return_exceptions=True)

    async def run(self) -> None:
        """Connect, read until closed, reconnect with backoff; returns after ``close()``."""
        self._failures = 0
        first = True
        while not self._closing:
            if not first:
                await asyncio.sleep(self._backoff(self._failures))
            first = False
            try:
                ws = await connect(
                    self.url,
                    additional_headers=self.signer.headers("GET", self.path),
                    open_timeout=self.open_timeout,
                    max_size=MAX_FRAME_BYTES,
                    # Frames are small and many: per-message deflate would cost more CPU
                    # per frame than the JSON parse, and Kalshi makes it optional.
                    compression=None,
                    proxy=None,
                    close_timeout=2,
                )
            except InvalidURI:
                raise
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                self._failures += 1
                self.metrics.failed_connects += 1
                status = f"HTTP {exc.response.status_code}" if isinstance(exc, InvalidStatus) else repr(exc)
                log.warning("%s: connect to %s failed (%s), attempt %d", self.name, self.url, status, self._failures)
                if self.max_attempts and self._failures >= self.max_attempts:
                    raise ConnectionFailed(f"{self.url}: {self._failures} connection attempts failed") from exc
                continue
            self._failures = 0
            self.metrics.connects += 1
            if self.metrics.connects > 1:
                self.metrics.reconnects += 1
            try:
                await self._session(ws)
            except ConnectionClosed as exc:
                if self._closing:
                    log.info("%s: closed", self.name)
                else:
                    log.warning("%s: connection lost (%s)", self.name, exc)
            finally:
                self._disconnected()

    def _backoff(self, failures: int) -> float:
        """1 s, 2 s, 4 s ... capped, each jittered to 50-100 % so clients do not reconnect in step."""
        delay = min(self.max_delay, self.base_delay * 2 ** min(failures, 30))
        return delay * random.uniform(0.5, 1.0)

    async def _session(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._next_id = 1
        self._outbox = asyncio.Queue()
        writer = asyncio.create_task(self._write(ws, self._outbox), name=f"{self.name}.writer")
        self._last_message = time.monotonic()
        for sub in self.subscriptions:
            self._send_subscribe(sub, None)
        self.connected.set()
        log.info("%s: connected to %s", self.name, self.url)
        try:
            while True:
                self._on_frame(await ws.recv(decode=False))
        finally:
            writer.cancel()
            await ws.close()  # a no-op after a drop; closes cleanly when our task is cancelled

    @staticmethod
    async def _write(ws: ClientConnection, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            frame = await outbox.get()
            try:
                await ws.send(frame, text=True)
            except ConnectionClosed:
                return

    def _disconnected(self) -> None:
        self.connected.clear()
        self._ws = None
        self._outbox = None
        self._expected.clear()
        self._sid_owner.clear()
        for sub in self.subscriptions:
            sub.sids.clear()
            sub.ready.clear()
        for book in self.books.values():
            book.mark_stale()
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(ConnectionError("the Kalshi WebSocket connection closed"))

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
            self._claim_books(tickers)
            # The book model keeps NO bids at NO prices; Kalshi will flip this default, so send it.
            options.setdefault("use_yes_price", False)
        sub = Subscription(channels, tickers, options)
        self.subscriptions.append(sub)
        if self.connected.is_set():
            future = asyncio.get_running_loop().create_future()
            self._send_subscribe(sub, future)
            try:
                await self._await(future)
            except KalshiWsError:
                self._forget(sub)
                raise
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        self._forget(sub)
        if self.connected.is_set() and sub.sids:
            sids = list(sub.sids.values())
            future = asyncio.get_running_loop().create_future()
            self._command("unsubscribe", {"sids": sids}, _Pending("unsubscribe", sub, future, replies_left=len(sids)))
            await self._await(future)

    async def add_markets(self, sub: Subscription, market_tickers: Sequence[str]) -> None:
        new = [t for t in dict.fromkeys(market_tickers) if t not in sub.market_tickers]
        if ORDERBOOK_CHANNEL in sub.channels:
            self._claim_books(new)
        sub.market_tickers.extend(new)
        await self._update_markets(sub, "add_markets", new)

    async def delete_markets(self, sub: Subscription, market_tickers: Sequence[str]) -> None:
        gone = [t for t in dict.fromkeys(market_tickers) if t in sub.market_tickers]
        sub.market_tickers[:] = [t for t in sub.market_tickers if t not in gone]
        if ORDERBOOK_CHANNEL in sub.channels:
            for ticker in gone:
                self.books.pop(ticker, None)
        await self._update_markets(sub, "delete_markets", gone)

    async def list_subscriptions(self) -> list[m.SubscriptionInfo]:
        future = asyncio.get_running_loop().create_future()
        self._command("list_subscriptions", None, _Pending("list_subscriptions", None, future))
        ok = await self._await(future)
        return ok[0].subscriptions

    def listen(self, *types: type, maxsize: int = DEFAULT_QUEUE_SIZE) -> Listener:
        """A bounded queue of the given message types (default: every data message)."""
        listener = Listener(frozenset(types or m.DATA_TYPES), maxsize)
        self._listeners.append(listener)
        self._route()
        return listener

    def unlisten(self, listener: Listener) -> None:
        self._listeners.remove(listener)
        self._route()

    def _route(self) -> None:
        self._routes = {}
        for listener in self._listeners:
            for type_ in listener.types:
                self._routes.setdefault(type_, []).append(listener)

    def _claim_books(self, tickers: Iterable[str]) -> None:
        taken = [t for t in tickers if t in self.books]
        if taken:
            raise ValueError(f"already in an orderbook_delta subscription: {', '.join(taken)}")
        for ticker in tickers:
            self.books[ticker] = OrderBook(ticker)

    def _forget(self, sub: Subscription) -> None:
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)
        if ORDERBOOK_CHANNEL in sub.channels:
            for ticker in sub.market_tickers:
                self.books.pop(ticker, None)
        for sid in sub.sids.values():
            self._sid_owner.pop(sid, None)
            self._expected.pop(sid, None)

    async def _update_markets(self, sub: Subscription, action: str, tickers: list[str]) -> None:
        if not tickers or not self.connected.is_set():
            return  # the market list goes with the subscription on the next connect
        if not sub.active:
            # Its subscribe went out before this change: let it land, then update it.
            await asyncio.wait_for(sub.ready.wait(), self.command_timeout)
        futures = []
        for sid in sub.sids.values():
            future = asyncio.get_running_loop().create_future()
            params = {"sid": sid, "action": action, "market_tickers": tickers}
            self._command("update_subscription", params, _Pending(action, sub, future))
            futures.append(future)
        for future in futures:
            await self._await(future)

    def _send_subscribe(self, sub: Subscription, future: asyncio.Future[Any] | None) -> None:
        sub.sids.clear()
        sub.ready.clear()
        params = m.subscribe_params(list(sub.channels), sub.market_tickers, **sub.options)
        self._command("subscribe", params, _Pending("subscribe", sub, future, replies_left=len(sub.channels)))

    def _command(self, cmd: str, params: dict[str, Any] | None, pending: _Pending) -> int:
        if self._outbox is None:
            raise ConnectionError("not connected to Kalshi")
        command_id = self._next_id
        self._next_id += 1
        self._pending[command_id] = pending
        self._outbox.put_nowait(m.command(command_id, cmd, params))
        return command_id

    async def _await(self, future: asyncio.Future[Any]) -> Any:
        return await asyncio.wait_for(future, self.command_timeout)

    def _resolve(self, command_id: int, reply: Any) -> _Pending | None:
        entry = self._pending.get(command_id)
        if entry is None:
            return None
        entry.result.append(reply)
        entry.replies_left -= 1
        if entry.replies_left <= 0:
            del self._pending[command_id]
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(entry.result)
        return entry

    # ---- reading ---------------------------------------------------------------

    def _on_frame(self, frame: bytes) -> None:
        metrics = self.metrics
        metrics.messages += 1
        metrics.bytes += len(frame)
        self._last_message = time.monotonic()
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
        expected = self._expected.get(sid)
        if expected is None:
            if sid not in self._sid_owner:
                # Kalshi confirms a sid before its first message, so this is an old sid's
                # data still in flight after we unsubscribed or resubscribed: not ours to apply.
                self.metrics.stray += 1
                return False
            if anchors:
                self._expected[sid] = seq + 1
                return True
            self.metrics.dropped_deltas += 1
            return False
        if seq == expected:
            self._expected[sid] = seq + 1
            return True
        if seq == expected - 1:
            self.metrics.duplicates += 1
            return False
        self.metrics.gaps += 1
        log.warning("%s: seq gap on sid %d: expected %d, got %d", self.name, sid, expected, seq)
        owner = self._sid_owner.get(sid)
        if owner is not None and owner[1] == ORDERBOOK_CHANNEL:
            self._resync(sid)
            if not anchors:
                self.metrics.dropped_deltas += 1
                return False
        self._expected[sid] = seq + 1
        return True

    def _resync(self, sid: int) -> None:
        """Stale books, fresh snapshots: deltas are dropped until each market's snapshot re-anchors the sid."""
        self._expected.pop(sid, None)
        owner = self._sid_owner.get(sid)
        if owner is None:
            return
        sub = owner[0]
        for ticker in sub.market_tickers:
            book = self.books.get(ticker)
            if book is not None:
                book.mark_stale()
        self.metrics.resyncs += 1
        if sub.market_tickers and self._outbox is not None:
            params = {"sid": sid, "action": "get_snapshot", "market_tickers": list(sub.market_tickers)}
            self._command("update_subscription", params, _Pending("get_snapshot", sub, None))

    def _on_snapshot(self, msg: m.OrderbookSnapshot) -> None:
        if msg.id:
            self._pending.pop(msg.id, None)
        if not self._in_sequence(msg.sid, msg.seq, anchors=True):
            return
        book = self.books.get(msg.msg.market_ticker)
        if book is not None:
            book.apply_snapshot(msg.msg.yes, msg.msg.no)
        self._deliver(msg)

    def _on_delta(self, msg: m.OrderbookDelta) -> None:
        if not self._in_sequence(msg.sid, msg.seq, anchors=False):
            return
        body = msg.msg
        book = self.books.get(body.market_ticker)
        if book is None or book.stale:
            self.metrics.dropped_deltas += 1
            return
        book.apply_delta(body.side, body.price, body.delta)
        self._deliver(msg)

    def _on_sequenced(self, msg: Any) -> None:
        if msg.seq is None or self._in_sequence(msg.sid, msg.seq, anchors=True):
            self._deliver(msg)

    def _on_unsequenced(self, msg: Any) -> None:
        if msg.sid in self._sid_owner:
            self._deliver(msg)
        else:
            self.metrics.stray += 1

    def _deliver(self, msg: Any) -> None:
        for listener in self._routes.get(type(msg), ()):
            listener.offer(msg, self.metrics)

    def _on_subscribed(self, msg: m.Subscribed) -> None:
        entry = self._pending.get(msg.id)
        if entry is not None and entry.subscription is not None:
            sub = entry.subscription
            sub.sids[msg.msg.channel] = msg.msg.sid
            self._sid_owner[msg.msg.sid] = (sub, msg.msg.channel)
            if sub.active:
                sub.ready.set()
        self._resolve(msg.id, msg)
        self._deliver(msg)

    def _on_unsubscribed(self, msg: m.Unsubscribed) -> None:
        self._sid_owner.pop(msg.sid, None)
        self._expected.pop(msg.sid, None)
        self._resolve(msg.id, msg)
        self._deliver(msg)

    def _on_ok(self, msg: m.Ok) -> None:
        self._reply_seq(msg)
        self._resolve(msg.id, msg)
        self._deliver(msg)

    def _reply_seq(self, msg: m.Ok | m.Error) -> None:
        """PROTOCOL 5: a reply's seq is either the sid's last data seq (the usual case, not a
        duplicate) or a new number; anything else is a gap like any other."""
        if msg.sid is None or msg.seq is None or msg.sid not in self._expected:
            return
        if msg.seq != self._expected[msg.sid] - 1:
            self._in_sequence(msg.sid, msg.seq, anchors=True)

    def _on_error(self, msg: m.Error) -> None:
        self.metrics.error_replies += 1
        self._reply_seq(msg)
        error = KalshiWsError(msg)
        entry = self._pending.pop(msg.id, None) if msg.id else None
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
            owner = self._sid_owner.get(msg.sid)
            if owner is not None:
                self._restart(owner[0], dead_sid=msg.sid)
        self._deliver(msg)

    def _restart(self, sub: Subscription, *, dead_sid: int | None) -> None:
        """Subscribe a broken subscription again (its books stale until new snapshots); its
        other sids are unsubscribed first, ``dead_sid`` being already gone on Kalshi's side."""
        live = [sid for sid in sub.sids.values() if sid != dead_sid]
        for sid in sub.sids.values():
            self._sid_owner.pop(sid, None)
            self._expected.pop(sid, None)
        if ORDERBOOK_CHANNEL in sub.channels:
            for ticker in sub.market_tickers:
                self.books[ticker].mark_stale()
        if self._outbox is None:
            return
        if live:
            self._command("unsubscribe", {"sids": live}, _Pending("unsubscribe", None, None, replies_left=len(live)))
        self._send_subscribe(sub, None)

    # ---- health ----------------------------------------------------------------

    def message_age(self) -> float | None:
        return None if self._last_message is None else time.monotonic() - self._last_message

    def health(self) -> ComponentHealth:
        age = self.message_age()
        stale_books = sum(1 for book in self.books.values() if book.stale)
        if not self.connected.is_set():
            healthy, detail = False, f"disconnected ({self._failures} failed attempts since the last connection)"
        elif age is None or age > self.stale_after:
            healthy, detail = False, f"no message for {age or 0:.0f} s"
        else:
            healthy, detail = True, f"connected, last message {age:.1f} s ago"
        metrics: dict[str, Any] = self.metrics.to_dict()
        metrics.update(message_age_s=age, books=len(self.books), stale_books=stale_books)
        return ComponentHealth(self.name, healthy, Criticality.CRITICAL, detail, metrics)
