"""The simulator on one aiohttp port: Kalshi's REST API (trading.simulator.rest) under
``/trade-api/v2``, its market-data WebSocket (trading.simulator.streams) at
``/trade-api/ws/v2``, and ``POST /sim/control`` for faults (actions documented in
trading/simulator/__init__.py). This module owns the life cycle, authentication,
the random-walk feed and the fan-out of exchange events to subscribers.

Design notes:
* Every exchange mutation is published before the next ``await``, so a snapshot taken
  by a command can never already contain a delta that is still to be sent.
* The random walk waits while any reader's socket buffer is above ``HIGH_WATER``: a
  slow reader slows the simulated world instead of growing memory without bound.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from trading.kalshi.signing import ACCESS_KEY, ACCESS_SIGNATURE, ACCESS_TIMESTAMP, load_public_key, verify
from trading.kalshi.sim_keys import ensure_sim_keys
from trading.orderbook import NO
from trading.simulator import account_wire, control, wire
from trading.simulator.exchange import Exchange
from trading.simulator.faults import Faults
from trading.simulator.order_entry import OrderEntry
from trading.simulator.records import (
    BookDelta,
    FillMade,
    LifecycleChanged,
    OrderChanged,
    PositionChanged,
    SimTrade,
    now_ms,
)
from trading.simulator.rest import (
    AUTH_ERRORS,
    REST_PREFIX,
    SERVER_ERRORS,
    TOO_MANY_REQUESTS,
    RestApi,
    error_body,
    json_response,
)
from trading.simulator.streams import Commands, Connection
from trading.units import ONE_DOLLAR, UnitError

log = logging.getLogger("trading.simulator")

WS_PATH = "/trade-api/ws/v2"
CONTROL_PATH = "/sim/control"

# The feed generates in batches once per tick; 5 ms keeps latency low while a batch
# is large enough (rate x 5 ms) to amortise the per-tick cost at high rates.
TICK_S = 0.005
MAX_BATCH = 2_000

# Above this many unsent bytes on any reader's socket the random walk waits (4 MiB
# is ~25k delta frames: deep enough never to starve a fast reader between ticks).
HIGH_WATER = 4 * 1024 * 1024
# PROTOCOL.md 3 leaves open what Kalshi does when pongs stop; we close after three missed.
MISSED_PONGS = 3
# Orders past their expiration_time expire, and markets past their close_time close and
# settle, on this period: Kalshi's times are whole seconds, and a scan costs microseconds.
LIFECYCLE_TICK_S = 1.0


@dataclass
class SimConfig:
    """Everything the simulator needs; the ``simulate_exchange`` flags map onto these fields."""

    markets: int = 5
    seed: int = 1
    whale_rate: float = 0.02
    rate: float = 500.0  # market-data messages/s over all markets; 0 = as fast as readers take them
    key_id: str = ""
    public_key_path: Path | None = None  # both empty: the sim key pair of settings.KALSHI.sim_dir
    host: str = "127.0.0.1"
    port: int = 0
    balance_cents: int = 100_000
    market_lifetime_s: float = 0.0  # > 0: markets close and settle after this, a new one listed for each
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


class SimulatorServer:
    """The whole simulator in one object: ``await start()``, ``port``/``rest_url``/``ws_url``,
    ``exchange`` (state), ``await stop()``; also an async context manager."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        if not config.key_id or config.public_key_path is None:
            from django.conf import settings

            keys = ensure_sim_keys(Path(settings.KALSHI.sim_dir))
            config.key_id, config.public_key_path = keys.key_id, keys.public_key_path
        self.public_key = load_public_key(Path(config.public_key_path))
        self.exchange = Exchange(
            markets=config.markets,
            seed=config.seed,
            whale_rate=config.whale_rate,
            balance_cents=config.balance_cents,
            market_lifetime_s=config.market_lifetime_s,
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
        self.rest = RestApi(self)
        self.commands = Commands(self.exchange)
        self.app = self._make_app()

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
        try:
            await site.start()
        except OSError:  # the port taken, say: nothing may be left half-started
            await self.stop()
            raise
        self.port = self._runner.addresses[0][1]
        self._tasks = [
            asyncio.create_task(self._feed(), name="sim-feed"),
            asyncio.create_task(self._lifecycle(), name="sim-lifecycle"),
        ]
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
        app.router.add_get(WS_PATH, self._websocket)
        app.router.add_post(CONTROL_PATH, self._control)
        self.rest.add_routes(app)
        OrderEntry(self).add_routes(app)
        return app

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
                    return json_response(error, 401)
            rejected = self._rejected_rest()
            if rejected is not None:
                return rejected
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return json_response(error_body("not_found", service=False), 404)
        except web.HTTPMethodNotAllowed:
            return json_response(error_body("method_not_allowed", service=False), 405)

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
        return json_response(SERVER_ERRORS.get(status, TOO_MANY_REQUESTS), status)

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
                        if sub.tickers is not None and event.ticker not in sub.tickers:
                            continue
                        if sub.use_yes_price and event.side == NO:
                            if mirrored is None:
                                mirrored = self._delta_body(event, ONE_DOLLAR - event.price)
                            conn.send_seq(sub, b"orderbook_delta", mirrored)
                        else:
                            if plain is None:
                                plain = self._delta_body(event, event.price)
                            conn.send_seq(sub, b"orderbook_delta", plain)
            elif kind is SimTrade:
                dirty.add(event.ticker)
                self._send_channel("trade", event.ticker, b"trade", wire.trade_msg, event, sequenced=True)
            elif kind is FillMade:
                self._send_channel("fill", event.fill.ticker, b"fill", account_wire.fill_msg, event.fill)
            elif kind is OrderChanged:
                self._send_channel(
                    "user_orders", event.order.ticker, b"user_order", account_wire.user_order_msg, event.order
                )
            elif kind is PositionChanged:
                self._send_channel(
                    "market_positions",
                    event.position.ticker,
                    b"market_position",
                    account_wire.market_position_msg,
                    event.position,
                )
            elif kind is LifecycleChanged:
                self._send_channel(
                    "market_lifecycle_v2",
                    event.ticker,
                    b"market_lifecycle_v2",
                    lambda e: wire.lifecycle_msg(self.exchange, e),
                    event,
                    sequenced=True,
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

    async def _lifecycle(self) -> None:
        while True:
            await asyncio.sleep(LIFECYCLE_TICK_S)
            self.exchange.lifecycle.tick()
            self.publish()

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

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        error = self._auth_error(request)
        if error is not None:
            return json_response(error, 401)
        if self.faults.reject_ws_next:
            self.faults.reject_ws_next -= 1
            return json_response(TOO_MANY_REQUESTS, 429)
        # autoping off: the pongs are the client's sign of life (client pings still get pongs).
        ws = web.WebSocketResponse(compress=False, autoping=False, max_msg_size=1 << 20)
        await ws.prepare(request)
        transport = request.transport
        if transport is None:
            return ws
        conn = Connection(ws, transport, self.faults)
        self.connections.add(conn)
        heartbeat = asyncio.create_task(self._heartbeat(conn))
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.commands.handle(conn, message.data)
                elif message.type == WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == WSMsgType.PONG:
                    conn.last_pong = asyncio.get_running_loop().time()
                conn.flush()
        finally:
            heartbeat.cancel()
            self.connections.discard(conn)
        return ws

    async def _heartbeat(self, conn: Connection) -> None:
        """Kalshi pings every 10 s with payload ``heartbeat`` (PROTOCOL.md 3); a client that
        has not answered the last ``MISSED_PONGS`` pings is closed (the simulator's choice)."""
        loop = asyncio.get_running_loop()
        interval = self.config.heartbeat_s
        conn.last_pong = loop.time()
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not conn.ws.closed:
                await asyncio.sleep(interval)
                if loop.time() - conn.last_pong > MISSED_PONGS * interval:
                    log.info("closing a WebSocket that missed %d pongs", MISSED_PONGS)
                    await conn.ws.close(code=1011, message=b"pong timeout")
                    return
                await conn.ws.ping(b"heartbeat")

    async def _control(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return json_response({"error": "body must be JSON"}, 400)
        if not isinstance(body, dict):
            return json_response({"error": "body must be a JSON object"}, 400)
        try:
            result = self.control(body)
        except (KeyError, ValueError, TypeError, UnitError) as exc:
            return json_response({"error": f"bad control request: {exc}"}, 400)
        return json_response({"ok": True, **result})

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply one ``/sim/control`` action (trading.simulator.control)."""
        return control.apply(self, body)
