"""Orders as Kalshi treats them, through the project's own REST client against the
simulator: expiry, reduce_only, post_only, the balance resting orders reserve, maker and
taker fees, trading pauses, amend, decrease, batch create and cancel, cancel-all; the
exchange, event and series routes; 404 and 405 with Kalshi's error body."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.trading.simulator.test_orders import book
from trading.kalshi.fees import QUADRATIC_WITH_MAKER_FEES, trade_fee
from trading.kalshi.rest import KalshiApiError, KalshiRestClient, NewOrder
from trading.kalshi.signing import Signer
from trading.simulator.server import SimulatorServer


@pytest.fixture
async def client(sim: SimulatorServer, signer: Signer) -> AsyncIterator[KalshiRestClient]:
    async with KalshiRestClient(sim.rest_url, signer, max_retries=0) as http:
        yield http


@pytest.fixture
def ticker(sim: SimulatorServer) -> str:
    ticker = sim.exchange.tickers[0]
    book(sim, ticker, yes={"0.41": "1200", "0.43": "850"}, no={"0.53": "300", "0.54": "200", "0.55": "100"})
    return ticker


def new(ticker: str, side: str, count: int, price: int, tif: str = "good_till_canceled", **extra) -> NewOrder:
    return NewOrder(
        ticker=ticker,
        side=side,  # type: ignore[arg-type]
        count=count,
        price=price,
        time_in_force=tif,  # type: ignore[arg-type]
        client_order_id=extra.pop("client_order_id", f"t-{time.monotonic_ns()}"),
        **extra,
    )


async def place(client: KalshiRestClient, order: NewOrder):
    return await client.create_order(**{k: v for k, v in vars(order).items()})


async def refused(call) -> KalshiApiError:
    with pytest.raises(KalshiApiError) as caught:
        await call
    return caught.value


async def test_resting_buy_reserves_its_cost_and_cancel_releases_it(client: KalshiRestClient, ticker: str):
    before = (await client.balance()).cash
    ack = await place(client, new(ticker, "bid", 1000, 4000))  # 10 YES @ 0.40 rests
    assert (await client.balance()).cash == before - 1000 * 4000
    ask = await place(client, new(ticker, "ask", 500, 6000))  # 5 NO @ 0.40 rests
    assert (await client.balance()).cash == before - 1000 * 4000 - 500 * 4000
    await client.cancel_order(ack.order_id)
    await client.cancel_order(ask.order_id)
    assert (await client.balance()).cash == before


async def test_order_expires_at_its_expiration_time(sim: SimulatorServer, client: KalshiRestClient, ticker: str):
    before = (await client.balance()).cash
    expires = int(time.time()) + 60
    ack = await place(client, new(ticker, "bid", 1000, 4000, expiration_time=expires))
    assert (await client.order(ack.order_id)).expiration_time is not None
    sim.exchange.expire_orders(expires - 1)
    assert (await client.order(ack.order_id)).status == "resting"
    sim.exchange.expire_orders(expires)
    sim.publish()
    assert (await client.order(ack.order_id)).status == "canceled"
    assert (await client.balance()).cash == before
    assert sim.exchange.account.orders[ack.order_id].last_update_reason == "ExpiryCancel"
    error = await refused(place(client, new(ticker, "bid", 100, 4000, expiration_time=int(time.time()) - 5)))
    assert (error.status, error.code) == (400, "invalid_order")
    error = await refused(place(client, new(ticker, "bid", 100, 4000, "immediate_or_cancel", expiration_time=expires)))
    assert (error.status, error.code) == (400, "invalid_parameters")


async def test_reduce_only_never_grows_the_position(sim: SimulatorServer, client: KalshiRestClient, ticker: str):
    error = await refused(place(client, new(ticker, "ask", 100, 4100, reduce_only=True)))
    assert (error.status, error.code) == (400, "invalid_parameters")  # only with immediate_or_cancel
    nothing = await place(client, new(ticker, "ask", 100, 4100, "immediate_or_cancel", reduce_only=True))
    assert nothing.fill_count == 0  # no YES held: selling YES would open NO
    order = sim.exchange.account.orders[nothing.order_id]
    assert (order.status, order.last_update_reason) == ("canceled", "ReduceOnlyCancel")
    await place(client, new(ticker, "bid", 300, 4500, "immediate_or_cancel"))  # 3 YES held
    capped = await place(client, new(ticker, "ask", 1000, 4100, "immediate_or_cancel", reduce_only=True))
    assert capped.fill_count == 300  # capped at the 3 held, never short
    assert sim.exchange.account.positions[ticker].position == 0


async def test_crossing_post_only_order_is_rejected(client: KalshiRestClient, ticker: str):
    error = await refused(place(client, new(ticker, "bid", 100, 4500, post_only=True)))
    assert (error.status, error.code, error.details) == (400, "invalid_order", "post only cross")
    inside = await place(client, new(ticker, "bid", 100, 4400, post_only=True))
    assert inside.remaining_count == 100


async def test_maker_fill_pays_the_maker_fee_of_its_series(
    sim: SimulatorServer, client: KalshiRestClient, signer: Signer
):
    ticker = next(t for t in sim.exchange.tickers if sim.exchange.markets[t].fee_type == QUADRATIC_WITH_MAKER_FEES)
    book(sim, ticker, yes={"0.410": "100"}, no={"0.550": "100"})
    ack = await place(client, new(ticker, "bid", 1000, 4400))
    sim.control({"action": "whale", "market_ticker": ticker, "count": "10.00", "taker_side": "no"})
    (fill,) = await client.fills(order_id=ack.order_id)
    assert not fill.is_taker and fill.fee == trade_fee(1000, 4400, taker=False, fee_type=QUADRATIC_WITH_MAKER_FEES)
    assert fill.fee > 0
    order = await client.order(ack.order_id)
    assert (order.status, order.maker_fees) == ("executed", fill.fee)


async def test_trading_pause_refuses_orders_and_cancels_those_that_asked(
    sim: SimulatorServer, client: KalshiRestClient, ticker: str
):
    keep = await place(client, new(ticker, "bid", 100, 4000))
    cancel = await place(client, new(ticker, "bid", 100, 3900, cancel_order_on_pause=True))
    sim.control({"action": "trading", "active": False})
    assert (await client.exchange_status()).trading_active is False
    error = await refused(place(client, new(ticker, "bid", 100, 4000)))
    assert (error.status, error.code) == (409, "trading_is_paused")
    assert (await client.order(keep.order_id)).status == "resting"
    assert (await client.order(cancel.order_id)).status == "canceled"
    await client.cancel_order(keep.order_id)  # cancels still go
    sim.control({"action": "trading", "active": True})
    assert (await client.exchange_status()).trading_active is True
    await place(client, new(ticker, "bid", 100, 4000))


async def test_amend_moves_price_and_size_and_decrease_keeps_the_queue(
    sim: SimulatorServer, client: KalshiRestClient, ticker: str
):
    ack = await place(client, new(ticker, "bid", 1000, 4000, client_order_id="am-1"))
    before = (await client.balance()).cash
    amended = await client.amend_order(
        ack.order_id, ticker=ticker, side="bid", price=4200, count=1500, updated_client_order_id="am-2"
    )
    assert (amended.remaining_count, amended.client_order_id) == (1500, "am-2")
    order = await client.order(ack.order_id)
    assert (order.yes_price, order.remaining_count, order.client_order_id) == (4200, 1500, "am-2")
    assert (await client.balance()).cash == before + 1000 * 4000 - 1500 * 4200
    assert sim.exchange.books[ticker].yes.get(4000) is None and sim.exchange.books[ticker].yes[4200] == 1500
    decreased = await client.decrease_order(ack.order_id, reduce_by=500)
    assert decreased.remaining_count == 1000
    decreased = await client.decrease_order(ack.order_id, reduce_to=200)
    assert decreased.remaining_count == 200 and sim.exchange.books[ticker].yes[4200] == 200
    crossed = await client.amend_order(ack.order_id, ticker=ticker, side="bid", price=4500, count=200)
    assert (crossed.fill_count, crossed.remaining_count) == (200, 0)  # now crosses the 0.45 ask: taken
    error = await refused(client.amend_order("no-such-order", ticker=ticker, side="bid", price=4200, count=100))
    assert (error.status, error.code) == (404, "not_found")
    error = await refused(client.decrease_order(ack.order_id, reduce_by=100))  # executed: no longer resting
    assert (error.status, error.code) == (404, "not_found")


async def test_batch_create_and_cancel_answer_per_order(client: KalshiRestClient, ticker: str):
    created = await client.batch_create_orders(
        [
            new(ticker, "bid", 100, 4000, client_order_id="b-1"),
            new(ticker, "bid", 100, 4050, client_order_id="b-2"),  # off the cent grid
            new(ticker, "bid", 100, 3900, client_order_id="b-1"),  # repeated id
        ]
    )
    assert created[0].order_id and created[0].remaining_count == 100 and created[0].error is None
    assert created[1].error is not None and created[1].error.code == "invalid_price"
    assert created[2].error is not None and created[2].error.code == "order_already_exists"
    assert created[1].client_order_id == "b-2"
    assert created[0].order_id is not None
    canceled = await client.batch_cancel_orders([created[0].order_id, "no-such-order"])
    assert (canceled[0].order_id, canceled[0].reduced_by, canceled[0].error) == (created[0].order_id, 100, None)
    assert canceled[1].error is not None and canceled[1].error.code == "not_found"


async def test_cancel_all_cancels_every_resting_order(client: KalshiRestClient, ticker: str):
    for price in (3800, 3900, 4000):
        await place(client, new(ticker, "bid", 100, price))
    await client.cancel_all_orders()
    assert await client.orders(status="resting") == []


async def test_exchange_events_and_series(sim: SimulatorServer, client: KalshiRestClient):
    schedule = await client.exchange_schedule()
    assert schedule.standard_hours[0].monday[0].open_time == "00:00" and schedule.maintenance_windows == []
    events = await client.events()
    assert {e.event_ticker for e in events} == {m.event_ticker for m in sim.exchange.markets.values()}
    first = sim.exchange.markets[sim.exchange.tickers[0]]
    one = await client.event(first.event_ticker)
    assert one.event.series_ticker == first.series_ticker and first.ticker in {m.ticker for m in one.markets}
    nested = await client.events(series_ticker=first.series_ticker, with_nested_markets="true")
    assert nested[0].markets
    series = await client.series_list()
    assert {s.ticker for s in series} >= {m.series_ticker for m in sim.exchange.markets.values()}
    assert (await client.series(first.series_ticker)).fee_type in ("quadratic", QUADRATIC_WITH_MAKER_FEES)
    error = await refused(client.series("NOSUCH"))
    assert (error.status, error.code) == (404, "not_found")


async def test_unknown_route_is_404_and_wrong_method_405_with_kalshi_bodies(rest: httpx.AsyncClient):
    response = await rest.get("/no/such/route")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = await rest.get("/portfolio/events/orders/batched")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    response = await rest.put("/exchange/status")
    assert response.status_code == 405
