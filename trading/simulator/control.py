"""``POST /sim/control``: the simulator's faults and scenarios, one action a request
(documented in trading/simulator/__init__.py). Bad requests raise KeyError, ValueError,
TypeError or UnitError, which the server answers with 400."""

from typing import TYPE_CHECKING, Any

from trading.simulator import account_wire, wire
from trading.simulator.faults import MALFORMED
from trading.simulator.streams import encode_frame
from trading.units import parse_count

if TYPE_CHECKING:
    from trading.simulator.server import SimulatorServer


def apply(server: "SimulatorServer", body: dict[str, Any]) -> dict[str, Any]:
    """Apply ``body["action"]`` to ``server``; what the reply says besides ``ok``."""
    action = body["action"]
    faults = server.faults
    if action == "drop":
        return {"dropped": server.drop_connections()}
    if action == "skip_seq":
        faults.skip_next.add(body.get("channel", "orderbook_delta"))
    elif action == "malformed":
        for conn in server.connections:
            conn.out.append(encode_frame(MALFORMED))
            conn.flush()
    elif action == "delay":
        if body.get("target", "ws") == "orders":
            faults.order_delay_ms = int(body["ms"])
        else:
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
        server.paused = True
    elif action == "resume":
        server.paused = False
    elif action == "step":
        server.step(int(body.get("count", 1)))
    elif action == "whale":
        ticker = body.get("market_ticker") or server.exchange.tickers[0]
        if ticker not in server.exchange.markets:
            raise ValueError(f"unknown market {ticker}")
        count = parse_count(body["count"]) if "count" in body else None
        if count is not None and count <= 0:
            raise ValueError("count must be positive")
        side = body.get("taker_side")
        if side not in (None, "yes", "no"):
            raise ValueError("taker_side must be yes or no")
        if server.exchange.markets[ticker].status != "active":
            raise ValueError(f"market {ticker} is not open")
        trade = server.exchange.whale(ticker, count=count, taker_outcome_side=side)
        server.publish()
        return {"trade": wire.rest_trade(trade)}
    elif action == "trading":
        active = body["active"]
        if not isinstance(active, bool):
            raise ValueError("active must be true or false")
        server.exchange.set_trading(active)
        server.publish()
        return {"trading_active": active}
    elif action == "settle":
        ticker = body["market_ticker"]
        if ticker not in server.exchange.markets:
            raise ValueError(f"unknown market {ticker}")
        settlement = server.exchange.settle(ticker, body["result"])
        server.publish()
        return {"settlement": account_wire.rest_settlement(settlement) if settlement else None}
    elif action == "reset":
        server.faults.clear()
        server.paused = False
    elif action == "status":
        pass
    else:
        raise ValueError(f"unknown action {action!r}")
    return {
        "paused": server.paused,
        "connections": len(server.connections),
        "messages_generated": server.messages_generated,
        "delay_ms": server.faults.delay_ms,
        "order_delay_ms": server.faults.order_delay_ms,
    }
