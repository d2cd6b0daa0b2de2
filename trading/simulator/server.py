"""The simulator's network face: Kalshi's REST API under ``/trade-api/v2`` and its
market-data WebSocket at ``/trade-api/ws/v2`` on one aiohttp port (PROTOCOL.md 2-9),
plus ``POST /sim/control`` for fault injection (actions in trading/simulator/__init__.py).

Design notes:
* Every exchange mutation is published before the next ``await``, so a snapshot taken
  by a command can never already contain a delta that is still to be sent.
* Outgoing frames are queued per connection and written with one ``transport.write``
  per event-loop tick (frames encoded here: unmasked text frames, no compression),
  which is what lets one core push tens of thousands of messages a second.
* The random walk waits while any reader's socket buffer is above ``HIGH_WATER``: a
  slow reader slows the simulated world instead of growing memory without bound.
"""

import asyncio
import base64
import binascii
import contextlib
import logging
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from trading.kalshi.signing import ACCESS_KEY, ACCESS_SIGNATURE, ACCESS_TIMESTAMP, load_public_key, verify
from trading.orderbook import NO
from trading.simulator import wire
from trading.simulator.exchange import (
    ASK,
    BID,
    SELF_TRADE_PREVENTION,
    TIME_IN_FORCE,
    BookDelta,
    Exchange,
    FillMade,
    OrderChanged,
    OrderRejected,
    PositionChanged,
    PublicTrade,
    now_ms,
)
from trading.units import ONE_DOLLAR, UnitError, format_count, parse_count, parse_price

log = logging.getLogger("trading.simulator")

REST_PREFIX = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"
CONTROL_PATH = "/sim/control"

# The feed generates in batches once per tick; 5 ms keeps latency low while a batch
# is large enough (rate x 5 ms) to amortise the per-tick cost at high rates.
TICK_S = 0.005
MAX_BATCH = 2_000
# Above this many unsent bytes on any reader's socket the random walk waits (4 MiB
# is ~25k delta frames: deep enough never to starve a fast reader between ticks).
HIGH_WATER = 4 * 1024 * 1024

PUBLIC_CHANNELS = frozenset({"orderbook_delta", "trade", "ticker", "market_lifecycle_v2"})
PRIVATE_CHANNELS = frozenset({"fill", "user_orders", "market_positions"})
# Real Kalshi channels the simulator accepts but never publishes on.
SILENT_CHANNELS = frozenset(
    {
        "multivariate_market_lifecycle",
        "communications",
        "order_group_updates",
        "cfbenchmarks_value",
        "cfbenchmarks_value_5hz",
        "pyth_value",
    }
)
SEQUENCED = frozenset({"orderbook_delta", "trade", "market_lifecycle_v2", *SILENT_CHANNELS})
MARKET_ACTIONS = frozenset({"orderbook_delta", "ticker", "trade", "fill", "user_orders"})

WS_ERRORS = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Action not supported",
    14: "Market Ticker required",
    15: "Action required",
}

TOO_MANY_REQUESTS = {"error": "too many requests"}
SERVER_ERRORS = {
    500: {"error": {"code": "internal_server_error", "message": "internal server error", "service": "exchange"}},
    503: {"error": {"code": "service_unavailable", "message": "service unavailable", "service": "exchange"}},
}


def _nested(code: str, details: str = "", *, service: bool = True) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": code.replace("_", " ")}
    if details:
        error["details"] = details
    elif service:
        error["service"] = "exchange"
    return {"error": error}


AUTH_ERRORS = {
    "bad_signature": {
        "error": {
            "code": "authentication_error",
            "message": "authentication_error",
            "details": "INCORRECT_API_KEY_SIGNATURE",
        }
    },
    "unknown_key": {
        "error": {"code": "authentication_error", "message": "authentication_error", "details": "NOT_FOUND"}
    },
    "stale": {"error": {"code": "header_timestamp_expired", "message": "header timestamp expired"}},
    "missing": {"error": {"code": "signature_is_missing_from_headers", "message": "signature is missing from headers"}},
}


def encode_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, uncompressed server frame (RFC 6455 5.2), FIN set."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


@dataclass
class SimConfig:
    """Everything the simulator needs; the ``simulate_exchange`` flags map onto these fields."""

    markets: int = 5
    seed: int = 1
    whale_rate: float = 0.02
    rate: float = 500.0  # market-data messages/s over all markets; 0 = as fast as readers take them
    key_id: str = ""
    public_key_path: Path | None = None  # both empty: the sim key pair of settings.SIM_DIR
    host: str = "127.0.0.1"
    port: int = 0
    balance_cents: int = 100_000
    timestamp_past_s: float = 10.0
    timestamp_future_s: float = 30.0
    heartbeat_s: float = 10.0
    paused: bool = False  # start with the random walk paused (resume via /sim/control)
    # Faults from the start (also settable at run time through /sim/control).
    delay_ms: int = 0
    gap_every: int = 0  # skip one seq number every N sequenced messages of a subscription
    malformed_every: int = 0  # a malformed frame after every N data frames of a connection
    drop_every_s: float = 0.0  # drop every WebSocket connection every S seconds
    reject_every: int = 0  # answer every Nth REST request with 429


@dataclass(slots=True)
class Subscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None: every market
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0
    sent: int = 0  # sequenced messages sent, for gap_every


@dataclass
class Faults:
    delay_ms: int = 0
    gap_every: int = 0
    malformed_every: int = 0
    drop_every_s: float = 0.0
    reject_every: int = 0
    reject_next: int = 0
    reject_status: int = 429
    reject_ws_next: int = 0
    skip_next: set[str] = field(default_factory=set)  # channels whose next sequenced message skips a seq
    rest_requests: int = 0


class Connection:
    """One WebSocket client: its subscriptions and its outgoing frame queue."""

    def __init__(self, server: "SimulatorServer", ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self.server = server
        self.ws = ws
        self.transport = transport
        self.subs: dict[int, Subscription] = {}
        self.by_channel: dict[str, list[Subscription]] = {}
        self.next_sid = 1
        self.out: list[bytes] = []
        self.data_frames = 0
        self.delayed: deque[tuple[float, bytes]] = deque()
        self.delay_handle: asyncio.TimerHandle | None = None

    def add(self, sub: Subscription) -> None:
        self.subs[sub.sid] = sub
        self.by_channel.setdefault(sub.channel, []).append(sub)

    def remove(self, sub: Subscription) -> None:
        del self.subs[sub.sid]
        self.by_channel[sub.channel].remove(sub)

    def send(self, message: dict[str, Any]) -> None:
        self.out.append(encode_frame(orjson.dumps(message)))

    def send_seq(self, sub: Subscription, kind: bytes, body: bytes, command_id: int = 0) -> None:
        """A sequenced data message; ``body`` is the serialized ``msg``."""
        faults = self.server.faults
        sub.seq += 1
        sub.sent += 1
        if sub.channel in faults.skip_next or (faults.gap_every and sub.sent % faults.gap_every == 0):
            faults.skip_next.discard(sub.channel)
            sub.seq += 1
        if command_id:
            text = b'{"type":"%s","id":%d,"sid":%d,"seq":%d,"msg":%s}' % (kind, command_id, sub.sid, sub.seq, body)
        else:
            text = b'{"type":"%s","sid":%d,"seq":%d,"msg":%s}' % (kind, sub.sid, sub.seq, body)
        self._data(text)

    def send_data(self, sub: Subscription, kind: bytes, body: bytes) -> None:
        """An unsequenced data message (ticker and the private channels)."""
        self._data(b'{"type":"%s","sid":%d,"msg":%s}' % (kind, sub.sid, body))

    def _data(self, text: bytes) -> None:
        self.out.append(encode_frame(text))
        self.data_frames += 1
        every = self.server.faults.malformed_every
        if every and self.data_frames % every == 0:
            self.out.append(encode_frame(MALFORMED))

    def flush(self) -> None:
        if not self.out:
            return
        data = b"".join(self.out)
        self.out.clear()
        if self.transport.is_closing():
            return
        delay = self.server.faults.delay_ms
        if delay or self.delayed:
            loop = asyncio.get_running_loop()
            self.delayed.append((loop.time() + delay / 1000, data))
            if self.delay_handle is None:
                self.delay_handle = loop.call_at(self.delayed[0][0], self._release)
            return
        self.transport.write(data)

    def _release(self) -> None:
        """Write the delayed chunks that are due, in order, and wait for the next one."""
        loop = asyncio.get_running_loop()
        self.delay_handle = None
        while self.delayed and self.delayed[0][0] <= loop.time():
            data = self.delayed.popleft()[1]
            if not self.transport.is_closing():
                self.transport.write(data)
        if self.delayed:
            self.delay_handle = loop.call_at(self.delayed[0][0], self._release)

    def buffered(self) -> int:
        return 0 if self.transport.is_closing() else self.transport.get_write_buffer_size()

    def abort(self) -> None:
        """Drop the connection as a network failure would: no close frame."""
        if self.delay_handle is not None:
            self.delay_handle.cancel()
        self.transport.abort()


# Cut off mid-object: not JSON, so a client must count it and carry on.
MALFORMED = b'{"type":"orderbook_delta","sid":1,"seq":'


class SimulatorServer:
    """The whole simulator in one object: ``await start()``, ``port``/``rest_url``/``ws_url``,
    ``exchange`` (state), ``await stop()``; also an async context manager."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        if not config.key_id or config.public_key_path is None:
            from django.conf import settings

            from trading.simulator.keys import ensure_sim_keys

            keys = ensure_sim_keys(Path(settings.SIM_DIR))
            config.key_id, config.public_key_path = keys.key_id, keys.public_key_path
        self.public_key = load_public_key(Path(config.public_key_path))
        self.exchange = Exchange(
            markets=config.markets, seed=config.seed, whale_rate=config.whale_rate, balance_cents=config.balance_cents
        )
        self.faults = Faults(
            delay_ms=config.delay_ms,
            gap_every=config.gap_every,
            malformed_every=config.malformed_every,
            drop_every_s=config.drop_every_s,
            reject_every=config.reject_every,
        )
        self.paused = config.paused
        self.connections: set[Connection] = set()
        self.messages_generated = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self._ticker_sent: dict[str, tuple] = {}
        self._dirty_tickers: set[str] = set()
        self._delta_prefixes: dict[str, bytes] = {}
        self.app = self._make_app()

    # ----- lifecycle ----------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}{REST_PREFIX}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}{WS_PATH}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._tasks = [asyncio.create_task(self._feed(), name="sim-feed")]
        if self.faults.drop_every_s:
            self._tasks.append(asyncio.create_task(self._dropper(), name="sim-dropper"))
        log.info(
            "simulator listening on %s and %s (%d markets, seed %d)",
            self.rest_url,
            self.ws_url,
            len(self.exchange.markets),
            self.config.seed,
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for conn in list(self.connections):
            conn.flush()
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"simulator stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "SimulatorServer":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        p = REST_PREFIX
        app.router.add_get(WS_PATH, self._websocket)
        app.router.add_post(CONTROL_PATH, self._control)
        app.router.add_get(f"{p}/exchange/status", self._exchange_status)
        app.router.add_get(f"{p}/markets", self._markets)
        app.router.add_get(f"{p}/markets/trades", self._trades)
        app.router.add_get(f"{p}/markets/{{ticker}}", self._market)
        app.router.add_get(f"{p}/markets/{{ticker}}/orderbook", self._orderbook)
        app.router.add_get(f"{p}/portfolio/balance", self._balance)
        app.router.add_get(f"{p}/portfolio/positions", self._positions)
        app.router.add_get(f"{p}/portfolio/orders", self._orders)
        app.router.add_get(f"{p}/portfolio/orders/{{order_id}}", self._order)
        app.router.add_get(f"{p}/portfolio/fills", self._fills)
        app.router.add_post(f"{p}/portfolio/events/orders", self._create_order)
        app.router.add_delete(f"{p}/portfolio/events/orders/{{order_id}}", self._cancel_order)
        for method, path in (
            ("POST", "/portfolio/orders"),
            ("POST", "/portfolio/orders/batched"),
            ("DELETE", "/portfolio/orders/batched"),
            ("DELETE", "/portfolio/orders/{order_id}"),
            ("POST", "/portfolio/orders/{order_id}/amend"),
            ("POST", "/portfolio/orders/{order_id}/decrease"),
        ):
            app.router.add_route(method, f"{p}{path}", self._deprecated_v1)
        return app

    # ----- authentication and faults on every request ------------------------

    def _auth_error(self, request: web.Request) -> dict[str, Any] | None:
        """None when the request carries a valid Kalshi signature, else the 401 body (PROTOCOL.md 2)."""
        headers = request.headers
        key_id, timestamp, signature = (headers.get(h) for h in (ACCESS_KEY, ACCESS_TIMESTAMP, ACCESS_SIGNATURE))
        if not signature or not key_id or not timestamp:
            reason = "missing"
        elif key_id != self.config.key_id:
            reason = "unknown_key"
        elif not timestamp.isdigit() or not (
            -self.config.timestamp_past_s <= int(timestamp) / 1000 - time.time() <= self.config.timestamp_future_s
        ):
            reason = "stale"
        elif not verify(self.public_key, timestamp, request.method, request.raw_path, signature):
            reason = "bad_signature"
        else:
            return None
        log.warning("refused %s %s: %s", request.method, request.path, reason)
        return AUTH_ERRORS[reason]

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        if path.startswith(REST_PREFIX):
            if path.startswith(f"{REST_PREFIX}/portfolio"):
                error = self._auth_error(request)
                if error is not None:
                    return web.json_response(error, status=401, dumps=_dumps)
            rejected = self._rejected_rest()
            if rejected is not None:
                return rejected
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.json_response(_nested("not_found", service=False), status=404, dumps=_dumps)
        except web.HTTPMethodNotAllowed:
            return web.json_response(_nested("method_not_allowed", service=False), status=405, dumps=_dumps)

    def _rejected_rest(self) -> web.Response | None:
        faults = self.faults
        faults.rest_requests += 1
        status = 0
        if faults.reject_next:
            faults.reject_next -= 1
            status = faults.reject_status
        elif faults.reject_every and faults.rest_requests % faults.reject_every == 0:
            status = 429
        if not status:
            return None
        return web.json_response(SERVER_ERRORS.get(status, TOO_MANY_REQUESTS), status=status, dumps=_dumps)

    # ----- publishing ---------------------------------------------------------

    def publish(self) -> None:
        """Turn the exchange's pending events into frames for every subscriber, then flush."""
        events = self.exchange.take_events()
        conns = self.connections
        if conns and events:
            self._fan_out(events)
        if conns and self._dirty_tickers:
            self._send_tickers()
        self._dirty_tickers.clear()
        for conn in conns:
            conn.flush()

    def _fan_out(self, events: list) -> None:
        conns, dirty = self.connections, self._dirty_tickers
        for event in events:
            kind = type(event)
            if kind is BookDelta:
                dirty.add(event.ticker)
                plain = mirrored = None
                for conn in conns:
                    for sub in conn.by_channel.get("orderbook_delta", ()):
                        if event.ticker not in sub.tickers:
                            continue
                        if sub.use_yes_price and event.side == NO:
                            if mirrored is None:
                                mirrored = self._delta_body(event, ONE_DOLLAR - event.price)
                            conn.send_seq(sub, b"orderbook_delta", mirrored)
                        else:
                            if plain is None:
                                plain = self._delta_body(event, event.price)
                            conn.send_seq(sub, b"orderbook_delta", plain)
            elif kind is PublicTrade:
                dirty.add(event.ticker)
                self._send_channel("trade", event.ticker, b"trade", wire.trade_msg, event, sequenced=True)
            elif kind is FillMade:
                self._send_channel("fill", event.fill.ticker, b"fill", wire.fill_msg, event.fill)
            elif kind is OrderChanged:
                self._send_channel("user_orders", event.order.ticker, b"user_order", wire.user_order_msg, event.order)
            elif kind is PositionChanged:
                self._send_channel(
                    "market_positions",
                    event.position.ticker,
                    b"market_position",
                    wire.market_position_msg,
                    event.position,
                )

    def _delta_body(self, event: BookDelta, price: int) -> bytes:
        prefix = self._delta_prefixes.get(event.ticker)
        if prefix is None:
            market = self.exchange.markets[event.ticker]
            prefix = self._delta_prefixes[event.ticker] = wire.delta_prefix(market.ticker, market.market_id)
        return wire.delta_body(prefix, event.side, price, event.delta, event.ts_ms, event.client_order_id)

    def _send_channel(
        self, channel: str, ticker: str, kind: bytes, build: Any, obj: Any, *, sequenced: bool = False
    ) -> None:
        body = None
        for conn in self.connections:
            for sub in conn.by_channel.get(channel, ()):
                if sub.tickers is not None and ticker not in sub.tickers:
                    continue
                if body is None:
                    body = orjson.dumps(build(obj))
                if sequenced:
                    conn.send_seq(sub, kind, body)
                else:
                    conn.send_data(sub, kind, body)

    def _send_tickers(self) -> None:
        subscribers = [(conn, sub) for conn in self.connections for sub in conn.by_channel.get("ticker", ())]
        if not subscribers:
            return
        now = now_ms()
        for ticker in self._dirty_tickers:
            state = wire.ticker_state(self.exchange, ticker)
            if self._ticker_sent.get(ticker) == state:
                continue
            self._ticker_sent[ticker] = state
            body = orjson.dumps(wire.ticker_msg(self.exchange, ticker, state, now))
            for conn, sub in subscribers:
                if sub.tickers is None or ticker in sub.tickers:
                    conn.send_data(sub, b"ticker", body)

    # ----- the random walk ------------------------------------------------------

    def step(self, count: int) -> None:
        """``count`` market-data messages now (also while paused), published at once."""
        self.exchange.step(count)
        self.messages_generated += count
        self.publish()

    def _backlogged(self) -> bool:
        return any(conn.buffered() > HIGH_WATER for conn in self.connections)

    async def _feed(self) -> None:
        loop = asyncio.get_running_loop()
        rate = self.config.rate
        last = loop.time()
        credit = 0.0
        while True:
            if rate > 0:
                await asyncio.sleep(TICK_S)
                now = loop.time()
                # At most 100 ms of backlog: after a stall, catch up without a flood.
                credit = min(credit + (now - last) * rate, max(rate * 0.1, 1.0))
                last = now
                if self.paused or self._backlogged():
                    credit = 0.0
                    continue
                batch = min(int(credit), MAX_BATCH)
                credit -= batch
            else:
                if self.paused or self._backlogged() or not self.connections:
                    await asyncio.sleep(0.001)
                    continue
                await asyncio.sleep(0)
                batch = MAX_BATCH // 4
            if batch:
                self.step(batch)

    async def _dropper(self) -> None:
        while True:
            await asyncio.sleep(self.faults.drop_every_s)
            self.drop_connections()

    def drop_connections(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.abort()
        log.info("dropped %d connections", len(conns))
        return len(conns)

    # ----- WebSocket ------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        error = self._auth_error(request)
        if error is not None:
            return web.json_response(error, status=401, dumps=_dumps)
        if self.faults.reject_ws_next:
            self.faults.reject_ws_next -= 1
            return web.json_response(TOO_MANY_REQUESTS, status=429, dumps=_dumps)
        ws = web.WebSocketResponse(compress=False, autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            return ws
        conn = Connection(self, ws, transport)
        self.connections.add(conn)
        heartbeat = asyncio.create_task(self._heartbeat(ws))
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._command(conn, message.data)
                conn.flush()
        finally:
            heartbeat.cancel()
            self.connections.discard(conn)
        return ws

    async def _heartbeat(self, ws: web.WebSocketResponse) -> None:
        """Kalshi pings every 10 s with payload ``heartbeat`` (PROTOCOL.md 3)."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not ws.closed:
                await asyncio.sleep(self.config.heartbeat_s)
                await ws.ping(b"heartbeat")

    def _command(self, conn: Connection, data: str | bytes) -> None:
        try:
            command = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.info("websocket: frame is not JSON")
            self._ws_error(conn, 0, 1)
            return
        if not isinstance(command, dict):
            self._ws_error(conn, 0, 1)
            return
        cmd_id = command.get("id", 0)
        if not isinstance(cmd_id, int):
            self._ws_error(conn, 0, 1)
            return
        params = command.get("params")
        cmd = command.get("cmd")
        if params is not None and not isinstance(params, dict):
            self._ws_error(conn, cmd_id, 1)
            return
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "update_subscription": self._update_subscription,
            "list_subscriptions": self._list_subscriptions,
        }.get(cmd)  # type: ignore[arg-type]
        if handler is None:
            log.info("websocket: unknown cmd %r", cmd)
            self._ws_error(conn, cmd_id, 5)
            return
        if cmd != "list_subscriptions" and params is None:
            self._ws_error(conn, cmd_id, 2)
            return
        handler(conn, cmd_id, params or {})

    def _ws_error(self, conn: Connection, cmd_id: int, code: int, **extra: Any) -> None:
        msg: dict[str, Any] = {"code": code, "msg": WS_ERRORS[code], **extra}
        conn.send({"id": cmd_id, "type": "error", "msg": msg})

    def _market_params(self, params: dict[str, Any]) -> tuple[list[str] | None, list[str]]:
        """(tickers named, unknown ones); tickers None when no market was named."""
        markets = self.exchange.markets
        named: list[str] = []
        if isinstance(params.get("market_ticker"), str):
            named.append(params["market_ticker"])
        if isinstance(params.get("market_tickers"), list):
            named.extend(t for t in params["market_tickers"] if isinstance(t, str))
        ids = []
        if isinstance(params.get("market_id"), str):
            ids.append(params["market_id"])
        if isinstance(params.get("market_ids"), list):
            ids.extend(params["market_ids"])
        if ids:
            by_id = {m.market_id: t for t, m in markets.items()}
            named.extend(by_id.get(i, str(i)) for i in ids)
        if not named:
            return None, []
        named = list(dict.fromkeys(named))
        return named, [t for t in named if t not in markets]

    def _subscribe(self, conn: Connection, cmd_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            self._ws_error(conn, cmd_id, 3)
            return
        known = PUBLIC_CHANNELS | PRIVATE_CHANNELS | SILENT_CHANNELS
        if any(c not in known for c in channels):
            log.info("websocket: unknown channel in %r", channels)
            self._ws_error(conn, cmd_id, 8)
            return
        tickers, unknown = self._market_params(params)
        if unknown:
            self._ws_error(conn, cmd_id, 11, market_tickers=unknown)
            return
        if "orderbook_delta" in channels and tickers is None:
            self._ws_error(conn, cmd_id, 14)
            return
        for channel in dict.fromkeys(channels):
            markets = None if tickers is None or channel in ("market_lifecycle_v2", *SILENT_CHANNELS) else tickers
            sub = Subscription(
                sid=conn.next_sid,
                channel=channel,
                tickers=None if markets is None else set(markets),
                use_yes_price=params.get("use_yes_price") is True,
                skip_ticker_ack=params.get("skip_ticker_ack") is True,
            )
            conn.next_sid += 1
            conn.add(sub)
            conn.send({"type": "subscribed", "id": cmd_id, "msg": {"channel": channel, "sid": sub.sid}})
            if channel == "orderbook_delta":
                self._snapshots(conn, sub, markets or [], 0)
            elif channel == "ticker" and params.get("send_initial_snapshot") is True:
                now = now_ms()
                for ticker in markets or list(self.exchange.markets):
                    state = wire.ticker_state(self.exchange, ticker)
                    conn.send_data(sub, b"ticker", orjson.dumps(wire.ticker_msg(self.exchange, ticker, state, now)))

    def _snapshots(self, conn: Connection, sub: Subscription, tickers: list[str], cmd_id: int) -> None:
        for ticker in tickers:
            body = orjson.dumps(wire.snapshot_msg(self.exchange, ticker, use_yes_price=sub.use_yes_price))
            conn.send_seq(sub, b"orderbook_snapshot", body, cmd_id)

    def _unsubscribe(self, conn: Connection, cmd_id: int, params: dict[str, Any]) -> None:
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids:
            self._ws_error(conn, cmd_id, 4)
            return
        for sid in sids:
            sub = conn.subs.get(sid) if isinstance(sid, int) else None
            if sub is None:
                self._ws_error(conn, cmd_id, 7)
                continue
            conn.remove(sub)
            conn.send({"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "unsubscribed"})

    def _update_subscription(self, conn: Connection, cmd_id: int, params: dict[str, Any]) -> None:
        sids = [params["sid"]] if "sid" in params else params.get("sids")
        if not isinstance(sids, list) or len(sids) != 1 or ("sid" in params and "sids" in params):
            self._ws_error(conn, cmd_id, 12)
            return
        sub = conn.subs.get(sids[0]) if isinstance(sids[0], int) else None
        if sub is None:
            self._ws_error(conn, cmd_id, 7)
            return
        action = params.get("action")
        if not action:
            self._ws_error(conn, cmd_id, 15)
            return
        tickers, unknown = self._market_params(params)
        if action == "get_snapshot":
            if sub.channel != "orderbook_delta":
                self._ws_error(conn, cmd_id, 13)
                return
            wanted = sorted(sub.tickers or ()) if tickers is None else [t for t in tickers if t in (sub.tickers or ())]
            self._snapshots(conn, sub, wanted, cmd_id)
            return
        if action not in ("add_markets", "delete_markets") or sub.channel not in MARKET_ACTIONS:
            self._ws_error(conn, cmd_id, 13)
            return
        if tickers is None:
            self._ws_error(conn, cmd_id, 14)
            return
        if unknown:
            self._ws_error(conn, cmd_id, 11, market_tickers=unknown)
            return
        if action == "add_markets":
            if sub.tickers is not None:
                added = [t for t in tickers if t not in sub.tickers]
                sub.tickers.update(added)
                if sub.channel == "orderbook_delta":
                    self._snapshots(conn, sub, added, 0)
        else:
            if sub.tickers is None:
                sub.tickers = set(self.exchange.markets)
            sub.tickers.difference_update(tickers)
        reply: dict[str, Any] = {"id": cmd_id, "sid": sub.sid, "seq": sub.seq, "type": "ok"}
        if not sub.skip_ticker_ack:
            reply["msg"] = {"market_tickers": sorted(sub.tickers if sub.tickers is not None else self.exchange.markets)}
        conn.send(reply)

    def _list_subscriptions(self, conn: Connection, cmd_id: int, params: dict[str, Any]) -> None:
        subs = [{"channel": s.channel, "sid": s.sid} for s in sorted(conn.subs.values(), key=lambda s: s.sid)]
        conn.send({"id": cmd_id, "type": "ok", "msg": subs})

    # ----- REST: market data --------------------------------------------------------

    async def _exchange_status(self, request: web.Request) -> web.Response:
        return _json({"exchange_active": True, "trading_active": True, "exchange_estimated_resume_time": None})

    async def _markets(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetMarkets", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        status_map = {
            "unopened": "initialized",
            "open": "active",
            "paused": "inactive",
            "closed": "closed",
            "settled": "finalized",
        }
        wanted_status = status_map.get(q.get("status", ""), q.get("status"))
        tickers = set(filter(None, q.get("tickers", "").split(","))) or None
        markets = [
            m
            for m in self.exchange.markets.values()
            if (not q.get("event_ticker") or m.event_ticker in q["event_ticker"].split(","))
            and (not q.get("series_ticker") or m.series_ticker == q["series_ticker"])
            and (wanted_status is None or m.status == wanted_status)
            and (tickers is None or m.ticker in tickers)
            and _in_range(int(m.close_time.timestamp()), q.get("min_close_ts"), q.get("max_close_ts"))
        ]
        page, cursor = _page(markets, q.get("cursor"), limit)
        return _json({"cursor": cursor, "markets": [wire.market(self.exchange, m) for m in page]})

    async def _market(self, request: web.Request) -> web.Response:
        market = self.exchange.markets.get(request.match_info["ticker"])
        if market is None:
            return _json(_nested("not_found"), 404)
        return _json({"market": wire.market(self.exchange, market)})

    async def _orderbook(self, request: web.Request) -> web.Response:
        ticker = request.match_info["ticker"]
        if ticker not in self.exchange.markets:
            return _json(_nested("not_found"), 404)
        try:
            depth = int(request.query.get("depth", "0"))
        except ValueError:
            return _json({"msg": "Parameter validation failed for GetMarketOrderbook: depth must be an integer"}, 400)
        if depth > 100:
            return _json({"msg": "Parameter validation failed for GetMarketOrderbook: depth must be <= 100"}, 400)
        return _json(wire.rest_orderbook(self.exchange, ticker, depth))

    async def _trades(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetTrades", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        trades = [
            t
            for t in reversed(self.exchange.trades)
            if (not q.get("ticker") or t.ticker == q["ticker"])
            and _in_range(t.ts_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        page, cursor = _page(trades, q.get("cursor"), limit)
        return _json({"cursor": cursor, "trades": [wire.rest_trade(t) for t in page]})

    # ----- REST: portfolio ---------------------------------------------------------

    async def _balance(self, request: web.Request) -> web.Response:
        return _json(wire.balance(self.exchange))

    async def _positions(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetPositions", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        count_filter = set(filter(None, q.get("count_filter", "").split(",")))
        positions = [
            p
            for p in self.exchange.account.positions.values()
            if (not q.get("ticker") or p.ticker == q["ticker"])
            and (not q.get("event_ticker") or p.event_ticker in q["event_ticker"].split(","))
            and ("position" not in count_filter or p.position)
            and ("total_traded" not in count_filter or p.total_traded)
        ]
        page, cursor = _page(positions, q.get("cursor"), limit)
        resting: dict[str, int] = {}
        for order in self.exchange.account.orders.values():
            if order.status == "resting":
                resting[order.ticker] = resting.get(order.ticker, 0) + 1
        events: dict[str, list] = {}
        for p in page:
            events.setdefault(p.event_ticker, []).append(p)
        return _json(
            {
                "cursor": cursor,
                "event_positions": [wire.rest_event_position(e, ps) for e, ps in events.items()],
                "market_positions": [wire.rest_market_position(p, resting.get(p.ticker, 0)) for p in page],
            }
        )

    async def _orders(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetOrders", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        events = set(filter(None, q.get("event_ticker", "").split(",")))
        markets = self.exchange.markets
        orders = [
            o
            for o in reversed(self.exchange.account.orders.values())
            if (not q.get("ticker") or o.ticker == q["ticker"])
            and (not events or markets[o.ticker].event_ticker in events)
            and (not q.get("status") or o.status == q["status"])
            and _in_range(o.created_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        page, cursor = _page(orders, q.get("cursor"), limit)
        return _json({"cursor": cursor, "orders": [wire.rest_order(o) for o in page]})

    async def _order(self, request: web.Request) -> web.Response:
        order = self.exchange.account.orders.get(request.match_info["order_id"])
        if order is None:
            return _json(_nested("not_found"), 404)
        return _json({"order": wire.rest_order(order)})

    async def _fills(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _limit(q, "GetFills", maximum=1000)
        if isinstance(limit, web.Response):
            return limit
        tickers = set(filter(None, q.get("ticker", "").split(",")))
        fills = [
            f
            for f in reversed(self.exchange.account.fills)
            if (not tickers or f.ticker in tickers)
            and (not q.get("order_id") or f.order_id == q["order_id"])
            and _in_range(f.ts_ms // 1000, q.get("min_ts"), q.get("max_ts"))
        ]
        page, cursor = _page(fills, q.get("cursor"), limit)
        return _json({"cursor": cursor, "fills": [wire.rest_fill(f) for f in page]})

    async def _create_order(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return _json(_flat_bad_request(f"invalid character in JSON body: {exc.msg}"), 400)
        if not isinstance(body, dict):
            return _json(_flat_bad_request("json: cannot unmarshal into Go value of type CreateOrderV2Request"), 400)
        fields = {
            "ticker": str,
            "side": str,
            "count": str,
            "price": str,
            "time_in_force": str,
            "self_trade_prevention_type": str,
            "client_order_id": str,
            "post_only": bool,
            "reduce_only": bool,
            "cancel_order_on_pause": bool,
            "expiration_time": int,
            "subaccount": int,
            "exchange_index": int,
            "order_group_id": str,
        }
        for name, kind in fields.items():
            value = body.get(name)
            if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
                go_type = {str: "string", bool: "bool", int: "int64"}[kind]
                got = (
                    "number" if isinstance(value, int | float) and not isinstance(value, bool) else type(value).__name__
                )
                return _json(
                    _flat_bad_request(
                        f"json: cannot unmarshal {got} into Go struct field "
                        f"CreateOrderV2Request.{name} of type {go_type}"
                    ),
                    400,
                )
        for name in ("ticker", "side", "count", "price", "time_in_force", "self_trade_prevention_type"):
            if not body.get(name):
                return _json(_nested("invalid_parameters", f"{name} is required"), 400)
        if body["side"] not in (BID, ASK):
            return _json(_nested("invalid_parameters", "side must be bid or ask"), 400)
        if body["time_in_force"] not in TIME_IN_FORCE:
            return _json(_nested("invalid_parameters", "unknown time_in_force"), 400)
        if body["self_trade_prevention_type"] not in SELF_TRADE_PREVENTION:
            return _json(_nested("invalid_parameters", "unknown self_trade_prevention_type"), 400)
        if body.get("expiration_time") is not None and body["time_in_force"] != "good_till_canceled":
            return _json(_nested("invalid_parameters", "expiration_time needs good_till_canceled"), 400)
        try:
            count = parse_count(body["count"])
        except UnitError:
            return _json(_nested("invalid_parameters", "count must have at most 2 decimals"), 400)
        try:
            price = parse_price(body["price"])
        except UnitError:
            return _json(_nested("invalid_price", "price is not on the market's tick grid"), 400)
        try:
            order = self.exchange.place_order(
                ticker=body["ticker"],
                side=body["side"],
                price=price,
                count=count,
                time_in_force=body["time_in_force"],
                self_trade_prevention_type=body["self_trade_prevention_type"],
                client_order_id=body.get("client_order_id") or "",
                post_only=bool(body.get("post_only")),
                expiration_time=body.get("expiration_time"),
                cancel_order_on_pause=bool(body.get("cancel_order_on_pause")),
                subaccount=body.get("subaccount") or 0,
            )
        except OrderRejected as exc:
            log.info("order refused: %s %s", exc.code, exc.details)
            return _json(_nested(exc.code, exc.details), exc.status)
        finally:
            self.publish()
        return _json(wire.create_order_response(order), 201)

    async def _cancel_order(self, request: web.Request) -> web.Response:
        try:
            order, reduced = self.exchange.cancel_order(request.match_info["order_id"])
        except OrderRejected as exc:
            return _json(_nested(exc.code, exc.details), exc.status)
        finally:
            self.publish()
        body: dict[str, Any] = {"order_id": order.order_id}
        if order.client_order_id:
            body["client_order_id"] = order.client_order_id
        body["reduced_by"] = format_count(reduced)
        body["ts_ms"] = order.last_update_ms
        return _json(body)

    async def _deprecated_v1(self, request: web.Request) -> web.Response:
        return _json(_nested("deprecated_v1_order_endpoint"), 410)

    # ----- fault control --------------------------------------------------------

    async def _control(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _json({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return _json({"error": "body must be a JSON object"}, 400)
        try:
            result = self.control(body)
        except (KeyError, ValueError, TypeError, UnitError) as exc:
            return _json({"error": f"bad control request: {exc}"}, 400)
        return _json({"ok": True, **result})

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply one ``/sim/control`` action (documented in trading/simulator/__init__.py)."""
        action = body["action"]
        faults = self.faults
        if action == "drop":
            return {"dropped": self.drop_connections()}
        if action == "skip_seq":
            faults.skip_next.add(body.get("channel", "orderbook_delta"))
        elif action == "malformed":
            for conn in self.connections:
                conn.out.append(encode_frame(MALFORMED))
                conn.flush()
        elif action == "delay":
            faults.delay_ms = int(body["ms"])
        elif action == "reject":
            status = int(body.get("status", 429))
            if status not in (429, 500, 503):
                raise ValueError("status must be 429, 500 or 503")
            if body.get("target", "rest") == "ws":
                faults.reject_ws_next = int(body.get("count", 1))
            else:
                faults.reject_next, faults.reject_status = int(body.get("count", 1)), status
        elif action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        elif action == "step":
            self.step(int(body.get("count", 1)))
        elif action == "whale":
            ticker = body.get("market_ticker") or self.exchange.tickers[0]
            if ticker not in self.exchange.markets:
                raise ValueError(f"unknown market {ticker}")
            count = parse_count(body["count"]) if "count" in body else None
            trade = self.exchange.whale(ticker, count=count, taker_outcome_side=body.get("taker_side"))
            self.publish()
            return {"trade": wire.rest_trade(trade)}
        elif action == "reset":
            self.faults = Faults()
            self.paused = False
        elif action == "status":
            pass
        else:
            raise ValueError(f"unknown action {action!r}")
        return {
            "paused": self.paused,
            "connections": len(self.connections),
            "messages_generated": self.messages_generated,
            "delay_ms": self.faults.delay_ms,
        }


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def _flat_bad_request(details: str) -> dict[str, str]:
    return {"code": "bad_request", "message": "bad request", "details": details}


def _limit(query: Any, operation: str, *, maximum: int) -> int | web.Response:
    """The ``limit`` query parameter (default 100), or the bare-shape 400 Kalshi sends."""
    text = query.get("limit", "100")
    try:
        limit = int(text)
    except ValueError:
        return _json({"msg": f"Parameter validation failed for {operation}: limit must be an integer"}, 400)
    if not 1 <= limit <= maximum:
        tag = "lte" if limit > maximum else "gte"
        params = operation.removeprefix("Get")
        return _json(
            {
                "msg": f"Parameter validation failed for {operation}: Key: 'Get{params}Params.Limit' "
                f"Error:Field validation for 'Limit' failed on the '{tag}' tag"
            },
            400,
        )
    return limit


def _in_range(value: int, low: str | None, high: str | None) -> bool:
    try:
        return (not low or value >= int(low)) and (not high or value <= int(high))
    except ValueError:
        return True


def _page(items: list, cursor: str | None, limit: int) -> tuple[list, str]:
    """Offset pagination behind an opaque cursor; the last page has ``""``. A garbage
    cursor is not an error (Kalshi answers 200): it reads as an empty last page."""
    start = 0
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix("o:"))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return [], ""
    page = items[start : start + limit]
    end = start + limit
    next_cursor = base64.urlsafe_b64encode(f"o:{end}".encode()).decode() if end < len(items) else ""
    return page, next_cursor
