"""Orders through the simulator's REST API: resting, price-time priority against the
simulated liquidity, partial fills, cancels, one order per client_order_id, Kalshi's
400/404/409/410 answers, and positions and balance in Kalshi's arithmetic."""

import httpx
import pytest

from tests.trading.simulator.conftest import order_body
from trading.simulator.server import SimulatorServer
from trading.units import parse_count, parse_price

ORDERS = "/portfolio/events/orders"


def book(sim: SimulatorServer, ticker: str, yes: dict[str, str], no: dict[str, str]) -> None:
    """Replace the market's simulated liquidity: {price: contracts}, NO side at NO prices."""
    sim.exchange.set_book(
        ticker,
        yes={parse_price(p): parse_count(c) for p, c in yes.items()},
        no={parse_price(p): parse_count(c) for p, c in no.items()},
    )
    sim.publish()


async def place(rest: httpx.AsyncClient, *args, status: int = 201, **kwargs) -> dict:
    response = await rest.post(ORDERS, json=order_body(*args, **kwargs))
    assert response.status_code == status, response.text
    return response.json()


async def get_order(rest: httpx.AsyncClient, order_id: str) -> dict:
    return (await rest.get(f"/portfolio/orders/{order_id}")).json()["order"]


def public_trade(sim: SimulatorServer, ticker: str, contracts: str, taker_side: str) -> None:
    sim.control({"action": "whale", "market_ticker": ticker, "count": contracts, "taker_side": taker_side})


@pytest.fixture
def ticker(sim: SimulatorServer) -> str:
    ticker = sim.exchange.tickers[0]
    book(sim, ticker, yes={"0.41": "1200", "0.43": "850"}, no={"0.53": "300", "0.54": "200", "0.55": "100"})
    return ticker


async def test_order_below_the_ask_rests_on_the_book(sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str):
    ack = await place(rest, ticker, "bid", "10", "0.42", client_order_id="r-1")
    assert (ack["fill_count"], ack["remaining_count"]) == ("0.00", "10.00")
    order = await get_order(rest, ack["order_id"])
    assert (order["status"], order["remaining_count_fp"], order["book_side"]) == ("resting", "10.00", "bid")
    assert sim.exchange.books[ticker].yes[4200] == 1000
    ask = await place(rest, ticker, "ask", "3", "0.50")  # sell YES = a NO bid at 0.50
    assert sim.exchange.books[ticker].no[5000] == 300
    assert (await get_order(rest, ask["order_id"]))["outcome_side"] == "no"


async def test_taker_fills_best_prices_first(sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str):
    ack = await place(rest, ticker, "bid", "250", "0.46", "immediate_or_cancel", client_order_id="t-1")
    assert (ack["fill_count"], ack["remaining_count"]) == ("250.00", "0.00")
    # 100 at the 0.45 ask (NO 0.55), then 150 of the 200 at 0.46 (NO 0.54); 0.47 untouched.
    assert ack["average_fill_price"] == "0.4560"
    fills = (await rest.get("/portfolio/fills", params={"order_id": ack["order_id"]})).json()["fills"]
    assert sorted((f["yes_price_dollars"], f["count_fp"]) for f in fills) == [
        ("0.4500", "100.00"),
        ("0.4600", "150.00"),
    ]
    assert all(f["is_taker"] for f in fills)
    assert sim.exchange.books[ticker].no == {5300: 30_000, 5400: 5_000}


async def test_resting_order_waits_behind_earlier_liquidity(sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str):
    ack = await place(rest, ticker, "bid", "10", "0.43", client_order_id="q-1")  # behind 850 at 0.43
    public_trade(sim, ticker, "845.00", "no")
    order = await get_order(rest, ack["order_id"])
    assert order["fill_count_fp"] == "0.00"
    public_trade(sim, ticker, "9.00", "no")  # 5 left ahead, then 4 of ours
    order = await get_order(rest, ack["order_id"])
    assert (order["status"], order["fill_count_fp"], order["remaining_count_fp"]) == ("resting", "4.00", "6.00")
    assert order["maker_fill_cost_dollars"] == "1.720000"
    public_trade(sim, ticker, "6.00", "no")
    order = await get_order(rest, ack["order_id"])
    assert (order["status"], order["fill_count_fp"], order["remaining_count_fp"]) == ("executed", "10.00", "0.00")
    fills = (await rest.get("/portfolio/fills", params={"order_id": ack["order_id"]})).json()["fills"]
    assert [f["is_taker"] for f in fills] == [False, False] and {f["fee_cost"] for f in fills} == {"0.000000"}


async def test_good_till_canceled_partial_fill_rests_the_remainder(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str
):
    ack = await place(rest, ticker, "bid", "150", "0.45", client_order_id="p-1")
    assert (ack["fill_count"], ack["remaining_count"]) == ("100.00", "50.00")
    order = await get_order(rest, ack["order_id"])
    assert (order["status"], order["remaining_count_fp"]) == ("resting", "50.00")
    assert sim.exchange.books[ticker].yes[4500] == 5_000
    assert 5500 not in sim.exchange.books[ticker].no


async def test_immediate_or_cancel_partial_fill_cancels_the_rest(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str
):
    ack = await place(rest, ticker, "bid", "150", "0.45", "immediate_or_cancel", client_order_id="i-1")
    assert (ack["fill_count"], ack["remaining_count"]) == ("100.00", "0.00")
    assert (await get_order(rest, ack["order_id"]))["status"] == "canceled"
    assert 4500 not in sim.exchange.books[ticker].yes


async def test_fill_or_kill_without_enough_liquidity_fills_nothing(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str
):
    before = sim.exchange.books[ticker].levels()
    ack = await place(rest, ticker, "bid", "150", "0.45", "fill_or_kill", client_order_id="f-1")
    assert (ack["fill_count"], ack["remaining_count"]) == ("0.00", "0.00")
    assert (await get_order(rest, ack["order_id"]))["status"] == "canceled"
    assert sim.exchange.books[ticker].levels() == before


async def test_cancel_then_cancel_again_is_404(sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str):
    ack = await place(rest, ticker, "bid", "5", "0.42", client_order_id="c-1")
    response = await rest.delete(f"{ORDERS}/{ack['order_id']}", params={"market_ticker": ticker})
    assert response.status_code == 200
    assert response.json()["reduced_by"] == "5.00" and response.json()["client_order_id"] == "c-1"
    order = await get_order(rest, ack["order_id"])
    assert (order["status"], order["remaining_count_fp"]) == ("canceled", "0.00")
    assert 4200 not in sim.exchange.books[ticker].yes
    for order_id in (ack["order_id"], "00000000-0000-4000-8000-000000000000"):
        again = await rest.delete(f"{ORDERS}/{order_id}")
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "not_found"


async def test_repeated_client_order_id_is_409_after_cancel_and_after_fill(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str
):
    canceled = await place(rest, ticker, "bid", "5", "0.42", client_order_id="dup-c")
    await rest.delete(f"{ORDERS}/{canceled['order_id']}")
    await place(rest, ticker, "bid", "5", "0.45", "immediate_or_cancel", client_order_id="dup-f")
    for coid in ("dup-c", "dup-f"):
        refused = await place(rest, ticker, "bid", "5", "0.42", client_order_id=coid, status=409)
        assert refused["error"]["code"] == "order_already_exists"
    orders = (await rest.get("/portfolio/orders")).json()["orders"]
    assert sorted(o["client_order_id"] for o in orders) == ["dup-c", "dup-f"]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"count": 10}, 400, "bad_request"),
        ({"price": 0.42}, 400, "bad_request"),
        ({"price": "0.425"}, 400, "invalid_price"),
        ({"price": "0.42001"}, 400, "invalid_price"),
        ({"price": "1.00"}, 400, "invalid_price"),
        ({"price": "0"}, 400, "invalid_price"),
        ({"time_in_force": None}, 400, "invalid_parameters"),
        ({"self_trade_prevention_type": None}, 400, "invalid_parameters"),
        ({"side": "buy"}, 400, "invalid_parameters"),
        ({"count": "1.001"}, 400, "invalid_parameters"),
        ({"count": "100000"}, 400, "insufficient_balance"),
        ({"price": "0.46", "post_only": True}, 400, "invalid_order"),
        ({"time_in_force": "immediate_or_cancel", "expiration_time": 1795536000}, 400, "invalid_parameters"),
        ({"ticker": "KXNOPE-26DEC31-T1"}, 404, "market_not_found"),
    ],
)
async def test_invalid_orders_are_refused(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str, change: dict, status: int, code: str
):
    request = order_body(ticker, "bid", "10", "0.42") | change
    request = {k: v for k, v in request.items() if v is not None}
    response = await rest.post(ORDERS, json=request)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload.get("error", payload)["code"] == code
    assert not sim.exchange.account.orders


async def test_tapered_grid_takes_tenth_cents_only_near_the_edges(sim: SimulatorServer, rest: httpx.AsyncClient):
    ticker = next(t for t, m in sim.exchange.markets.items() if m.grid.structure == "tapered_deci_cent")
    book(sim, ticker, yes={"0.20": "10"}, no={"0.70": "10"})
    await place(rest, ticker, "bid", "1", "0.055")
    refused = await place(rest, ticker, "bid", "1", "0.255", status=400)
    assert refused["error"]["code"] == "invalid_price"


async def test_malformed_json_and_legacy_endpoint(rest: httpx.AsyncClient):
    response = await rest.post(ORDERS, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    legacy = await rest.post("/portfolio/orders", json={"ticker": "X", "action": "buy", "side": "yes", "count": 1})
    assert legacy.status_code == 410
    assert legacy.json()["error"]["code"] == "deprecated_v1_order_endpoint"


async def test_positions_and_balance_follow_kalshis_arithmetic(
    sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str
):
    """The examples' story: B sells 25 YES at 0.43 (buys NO at 0.57), A bids 10 at 0.44 and
    fills as maker, closing 10 NO bought at 0.57 for 0.56: realized -$0.10."""
    b = await place(rest, ticker, "ask", "25", "0.43", "immediate_or_cancel", client_order_id="v3-dec-000185-a")
    assert (b["average_fill_price"], b["average_fee_paid"]) == ("0.4300", "0.0172")
    a = await place(rest, ticker, "bid", "10.00", "0.4400", post_only=True, client_order_id="v3-dec-000184-a")
    assert a["remaining_count"] == "10.00"
    public_trade(sim, ticker, "10.00", "no")

    positions = (await rest.get("/portfolio/positions")).json()
    (position,) = positions["market_positions"]
    assert position == position | {
        "ticker": ticker,
        "position_fp": "-15.00",
        "market_exposure_dollars": "8.550000",
        "realized_pnl_dollars": "-0.100000",
        "fees_paid_dollars": "0.429000",
        "total_traded_dollars": "18.650000",
        "resting_orders_count": 0,
    }
    (event,) = positions["event_positions"]
    assert (event["event_ticker"], event["total_cost_shares_fp"]) == (
        sim.exchange.markets[ticker].event_ticker,
        "15.00",
    )
    taker = await get_order(rest, b["order_id"])
    assert (taker["taker_fill_cost_dollars"], taker["taker_fees_dollars"]) == ("14.250000", "0.429000")
    maker = await get_order(rest, a["order_id"])
    assert (maker["status"], maker["maker_fill_cost_dollars"]) == ("executed", "4.400000")
    # $1,000 - 14.25 - 0.429 + 10 x (1 - 0.44) = $990.921
    balance = (await rest.get("/portfolio/balance")).json()
    assert (balance["balance"], balance["balance_dollars"]) == (99_092, "990.9210")
    fills = (await rest.get("/portfolio/fills")).json()["fills"]
    assert [(f["order_id"], f["fee_cost"], f["is_taker"]) for f in fills] == [
        (a["order_id"], "0.000000", False),
        (b["order_id"], "0.429000", True),
    ]


async def test_self_trade_prevention(sim: SimulatorServer, rest: httpx.AsyncClient, ticker: str):
    own_ask = await place(rest, ticker, "ask", "5", "0.44", client_order_id="own-ask")  # best ask now 0.44
    taker = await place(rest, ticker, "bid", "5", "0.44", "immediate_or_cancel", client_order_id="cross-1")
    assert taker["fill_count"] == "0.00"  # taker_at_cross: the incoming order is cancelled
    assert (await get_order(rest, own_ask["order_id"]))["status"] == "resting"
    maker = await place(
        rest,
        ticker,
        "bid",
        "5",
        "0.45",
        "immediate_or_cancel",
        client_order_id="cross-2",
        self_trade_prevention_type="maker",
    )
    assert (await get_order(rest, own_ask["order_id"]))["status"] == "canceled"
    assert maker["fill_count"] == "5.00" and maker["average_fill_price"] == "0.4500"
