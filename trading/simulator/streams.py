"""The WebSocket side of the simulator (PROTOCOL.md 3-6): connections with their
subscriptions and outgoing frame queues, and the subscribe / unsubscribe /
update_subscription / list_subscriptions commands with Kalshi's replies and error codes.

Frames are encoded here (unmasked text frames, no compression) and each connection's
queue goes out with one ``transport.write`` per event-loop tick: that batching is what
lets one core push tens of thousands of messages a second.
"""

import asyncio
import logging
import struct
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from trading.simulator import wire
from trading.simulator.exchange import Exchange
from trading.simulator.faults import MALFORMED, Faults
from trading.simulator.records import now_ms

log = logging.getLogger("trading.simulator")

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

KNOWN_CHANNELS = PUBLIC_CHANNELS | PRIVATE_CHANNELS | SILENT_CHANNELS
# Channels whose market set update_subscription add_markets / delete_markets may change.
MARKET_ACTIONS = frozenset({"orderbook_delta", "ticker", "trade", "fill", "user_orders"})

# Kalshi's error codes (PROTOCOL.md 5); Kalshi's own wording where recorded (7, 8, 14).
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


def encode_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, uncompressed server frame (RFC 6455 5.2), FIN set."""
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", 0x80 | opcode, n) + payload
    if n < 65536:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


@dataclass(slots=True)
class SimSubscription:
    sid: int
    channel: str
    tickers: set[str] | None  # None: every market
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0
    sent: int = 0  # sequenced messages sent, for gap_every


class Connection:
    """One WebSocket client: its subscriptions and its outgoing frame queue."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport, faults: Faults) -> None:
        self.faults = faults
        self.ws = ws
        self.transport = transport
        self.subs: dict[int, SimSubscription] = {}
        self.by_channel: dict[str, list[SimSubscription]] = {}
        self.next_sid = 1
        self.out: list[bytes] = []
        self.data_frames = 0
        self.delayed: deque[tuple[float, bytes]] = deque()
        self.delayed_bytes = 0
        self.last_pong = 0.0  # event-loop time of the client's last pong
        self.delay_handle: asyncio.TimerHandle | None = None

    def add(self, sub: SimSubscription) -> None:
        self.subs[sub.sid] = sub
        self.by_channel.setdefault(sub.channel, []).append(sub)

    def remove(self, sub: SimSubscription) -> None:
        del self.subs[sub.sid]
        self.by_channel[sub.channel].remove(sub)

    def send(self, message: dict[str, Any]) -> None:
        self.out.append(encode_frame(orjson.dumps(message)))

    def send_seq(self, sub: SimSubscription, kind: bytes, body: bytes, command_id: int = 0) -> None:
        """A sequenced data message; ``body`` is the serialized ``msg``."""
        faults = self.faults
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

    def send_data(self, sub: SimSubscription, kind: bytes, body: bytes) -> None:
        """An unsequenced data message (ticker and the private channels)."""
        self._data(b'{"type":"%s","sid":%d,"msg":%s}' % (kind, sub.sid, body))

    def _data(self, text: bytes) -> None:
        self.out.append(encode_frame(text))
        self.data_frames += 1
        every = self.faults.malformed_every
        if every and self.data_frames % every == 0:
            self.out.append(encode_frame(MALFORMED))

    def flush(self) -> None:
        if not self.out:
            return
        data = b"".join(self.out)
        self.out.clear()
        if self.transport.is_closing():
            return
        delay = self.faults.delay_ms
        if delay or self.delayed:
            loop = asyncio.get_running_loop()
            self.delayed.append((loop.time() + delay / 1000, data))
            self.delayed_bytes += len(data)
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
            self.delayed_bytes -= len(data)
            if not self.transport.is_closing():
                self.transport.write(data)
        if self.delayed:
            self.delay_handle = loop.call_at(self.delayed[0][0], self._release)

    def buffered(self) -> int:
        """Bytes queued for this client and not yet on the wire (held back by a delay, or unsent)."""
        return 0 if self.transport.is_closing() else self.transport.get_write_buffer_size() + self.delayed_bytes

    def abort(self) -> None:
        """Drop the connection as a network failure would: no close frame."""
        if self.delay_handle is not None:
            self.delay_handle.cancel()
        self.transport.abort()


class Commands:
    """Client commands on one exchange; replies and snapshots go to the connection's queue."""

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    def handle(self, conn: Connection, data: str | bytes) -> None:
        """One client frame: the command's replies, or an error with Kalshi's code, on the
        connection's queue. A frame of the wrong shape is answered, never raised."""
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
        if (params is not None and not isinstance(params, dict)) or not isinstance(cmd, str | None):
            self._ws_error(conn, cmd_id, 1)
            return
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "update_subscription": self._update_subscription,
            "list_subscriptions": self._list_subscriptions,
        }.get(cmd or "")
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
            ids.extend(i for i in params["market_ids"] if isinstance(i, str))
        if ids:
            by_id = {m.market_id: t for t, m in markets.items()}
            named.extend(by_id.get(i, i) for i in ids)
        if not named:
            return None, []
        named = list(dict.fromkeys(named))
        return named, [t for t in named if t not in markets]

    def _subscribe(self, conn: Connection, cmd_id: int, params: dict[str, Any]) -> None:
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            self._ws_error(conn, cmd_id, 3)
            return
        if not all(isinstance(c, str) for c in channels):
            self._ws_error(conn, cmd_id, 1)
            return
        if any(c not in KNOWN_CHANNELS for c in channels):
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
            sub = SimSubscription(
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

    def _snapshots(self, conn: Connection, sub: SimSubscription, tickers: list[str], cmd_id: int) -> None:
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
