"""Market lifecycle on the simulator, through the project's own Kalshi clients: a market
closes (resting orders canceled), is determined and settles; winning contracts pay $1,
the position goes flat, the balance is credited, ``GET /portfolio/settlements`` lists
it, and ``market_lifecycle_v2`` / ``user_order`` / ``market_position`` messages say so."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.trading.simulator.test_orders import book
from trading.kalshi import messages as m
from trading.kalshi.rest import KalshiApiError, KalshiRestClient
from trading.kalshi.signing import Signer
from trading.kalshi.ws import KalshiWebSocket
from trading.simulator.server import SimulatorServer
from trading.units import ONE_DOLLAR


@pytest.fixture
async def client(sim: SimulatorServer, signer: Signer) -> AsyncIterator[KalshiRestClient]:
    async with KalshiRestClient(sim.rest_url, signer, max_retries=0) as http:
        yield http


@pytest.fixture
async def ws(sim: SimulatorServer, signer: Signer) -> AsyncIterator[KalshiWebSocket]:
    socket = KalshiWebSocket(sim.ws_url, signer)
    socket.start()
    await asyncio.wait_for(socket.connected.wait(), 10)
    yield socket
    await socket.close()


@pytest.fixture
def ticker(sim: SimulatorServer) -> str:
    ticker = sim.exchange.tickers[0]
    book(sim, ticker, yes={"0.41": "1200", "0.43": "850"}, no={"0.53": "300", "0.54": "200", "0.55": "100"})
    return ticker


async def next_of(listener, kind: type, predicate=lambda msg: True):
    while True:
        msg = await asyncio.wait_for(listener.get(), 10)
        if isinstance(msg, kind) and predicate(msg):
            return msg


async def test_settlement_pays_winners_and_flattens_the_position(
    sim: SimulatorServer, client: KalshiRestClient, ws: KalshiWebSocket, ticker: str
):
    await ws.subscribe(["market_lifecycle_v2"])
    await ws.subscribe(["user_orders", "market_positions"])
    listener = ws.listen(m.MarketLifecycle, m.UserOrder, m.MarketPosition)
    # 20 YES bought as taker at the 0.45 ask, and a bid left resting below it.
    await client.create_order(
        ticker=ticker, side="bid", count=2000, price=4500, time_in_force="immediate_or_cancel", client_order_id="w-1"
    )
    resting = await client.create_order(
        ticker=ticker, side="bid", count=500, price=4000, time_in_force="good_till_canceled", client_order_id="w-2"
    )
    before = (await client.balance()).cash

    reply = sim.control({"action": "settle", "market_ticker": ticker, "result": "yes"})

    assert reply["settlement"]["revenue"] == 2000  # cents: 20 contracts x $1
    # $20 paid out, and the $2 the resting bid (5 @ 0.40) reserved released when the market closed.
    assert (await client.balance()).cash == before + 20 * 1_000_000 + 500 * 4000
    (settlement,) = await client.settlements()
    assert (settlement.ticker, settlement.market_result, settlement.yes_count) == (ticker, "yes", 2000)
    assert settlement.payout == 2000 * ONE_DOLLAR and settlement.cost == 2000 * 4500
    assert settlement.fee_cost == sim.exchange.account.positions[ticker].fees_paid > 0
    assert (await client.order(resting.order_id)).status == "canceled"
    assert (await client.positions()).market_positions == []  # unsettled only, by default
    (settled,) = (await client.positions(settlement_status="settled")).market_positions
    assert settled.position == 0 and settled.realized_pnl == 2000 * (ONE_DOLLAR - 4500)
    market = await client.market(ticker)
    assert (market.status, market.result) == ("finalized", "yes")

    canceled = await next_of(
        listener, m.UserOrder, lambda msg: msg.msg.order_id == resting.order_id and msg.msg.status != "resting"
    )
    assert (canceled.msg.status, canceled.msg.last_update_reason) == ("canceled", "CloseCancel")
    closed = await next_of(listener, m.MarketLifecycle)
    assert closed.msg.event_type == "close_date_updated" and closed.msg.close_ts is not None
    determined = await next_of(listener, m.MarketLifecycle)
    assert (determined.msg.event_type, determined.msg.result, determined.msg.settlement_value) == (
        "determined",
        "yes",
        ONE_DOLLAR,
    )
    flat = await next_of(listener, m.MarketPosition, lambda msg: msg.msg.position == 0)
    assert flat.msg.realized_pnl == 2000 * (ONE_DOLLAR - 4500)
    settled_msg = await next_of(listener, m.MarketLifecycle)
    assert settled_msg.msg.event_type == "settled" and settled_msg.msg.settled_ts is not None


async def test_losing_side_is_paid_nothing(sim: SimulatorServer, client: KalshiRestClient, ticker: str):
    await client.create_order(
        ticker=ticker, side="bid", count=1000, price=4500, time_in_force="immediate_or_cancel", client_order_id="l-1"
    )
    before = (await client.balance()).cash
    sim.control({"action": "settle", "market_ticker": ticker, "result": "no"})
    (settlement,) = await client.settlements()
    assert (settlement.market_result, settlement.revenue_cents, settlement.payout) == ("no", 0, 0)
    assert (await client.balance()).cash == before
    assert sim.exchange.account.positions[ticker].realized_pnl == -1000 * 4500


async def test_closed_market_refuses_orders_and_a_second_settlement(
    sim: SimulatorServer, client: KalshiRestClient, ticker: str
):
    sim.control({"action": "settle", "market_ticker": ticker, "result": "no"})
    with pytest.raises(KalshiApiError) as refused:
        await client.create_order(ticker=ticker, side="bid", count=100, price=4000, time_in_force="good_till_canceled")
    assert (refused.value.status, refused.value.code) == (400, "market_inactive")
    with pytest.raises(ValueError, match="already finalized"):
        sim.control({"action": "settle", "market_ticker": ticker, "result": "yes"})
    assert await client.settlements() == []  # it held nothing there
    assert sim.exchange.books[ticker].yes == {} and sim.exchange.books[ticker].no == {}


async def test_market_past_its_lifetime_settles_and_a_new_one_is_listed(sim: SimulatorServer, ws: KalshiWebSocket):
    await ws.subscribe(["market_lifecycle_v2"])
    listener = ws.listen(m.MarketLifecycle)
    lifecycle = sim.exchange.lifecycle
    lifecycle.lifetime_s = 300
    first = sim.exchange.tickers[0]
    sim.exchange.markets[first].close_time = datetime.now(UTC) - timedelta(seconds=1)

    assert lifecycle.tick() == [first]
    sim.publish()

    new = sim.exchange.tickers[-1]
    assert len(sim.exchange.tickers) == 5 and new not in sim.exchange.tickers[:4]
    assert sim.exchange.open_tickers == [*sim.exchange.tickers[1:4], new]
    assert sim.exchange.books[new].yes and sim.exchange.books[new].no  # the market maker seeded it
    events = [(await next_of(listener, m.MarketLifecycle)).msg for _ in range(3)]
    assert [(e.market_ticker, e.event_type) for e in events] == [
        (first, "determined"),
        (first, "settled"),
        (new, "created"),
    ]
    assert events[2].close_ts is not None and events[2].price_level_structure
    sim.step(200)  # the random walk runs on the open markets only
    assert not sim.exchange.books[first].yes and not sim.exchange.books[first].no
