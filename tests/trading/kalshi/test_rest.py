"""The REST client: Kalshi's example bodies, and real calls to the simulator."""

import json

import httpx
import msgspec
import pytest

from trading.kalshi.errors import KalshiApiError, KalshiResponseError
from trading.kalshi.rate_limits import TokenBucket
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.schemas import rest as schemas
from trading.units import parse_count, parse_price

from .conftest import examples

ORDER_DEFAULTS = {"time_in_force": "good_till_canceled", "self_trade_prevention_type": "taker_at_cross"}


@pytest.fixture
async def client(sim, signer):
    async with KalshiRestClient(sim.rest_url, signer, base_delay=0.01, max_delay=0.05) as http:
        yield http


# ---- Kalshi's example bodies -------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("rest_markets", schemas.MarketsPage),
        ("rest_market", schemas.MarketResponse),
        ("rest_orderbook", schemas.OrderbookResponse),
        ("rest_trades", schemas.TradesPage),
        ("rest_balance", schemas.Balance),
        ("rest_positions", schemas.PositionsPage),
        ("rest_fills", schemas.FillsPage),
        ("rest_create_order_response", schemas.OrderAck),
        ("rest_cancel_order_response", schemas.CancelAck),
    ],
)
def test_every_rest_example_decodes(name: str, model: type) -> None:
    for entry in examples(f"{name}.json"):
        assert isinstance(schemas.DECODERS[model].decode(json.dumps(entry)), model)


def test_rest_examples_in_units() -> None:
    page, one = examples("rest_orders.json")
    order = schemas.DECODERS[schemas.OrdersPage].decode(json.dumps(page)).orders[0]
    assert (order.yes_price, order.no_price, order.fill_count, order.taker_fees) == (4300, 5700, 2500, 429000)
    assert schemas.DECODERS[schemas.OrderResponse].decode(json.dumps(one)).order.maker_fill_cost == 4_400_000
    balance = schemas.DECODERS[schemas.Balance].decode(json.dumps(examples("rest_balance.json")[0]))
    assert (balance.balance_cents, balance.cash) == (99571, 995_712_500)
    book = schemas.DECODERS[schemas.OrderbookResponse].decode(json.dumps(examples("rest_orderbook.json")[0])).orderbook
    assert book.yes[-1] == (4400, 1000) and book.no[-1] == (5500, 450000)
    ack = schemas.DECODERS[schemas.OrderAck].decode(json.dumps(examples("rest_create_order_response.json")[1]))
    assert (ack.average_fill_price, ack.average_fee_paid, ack.recovered) == (4300, 17200, False)


def test_a_response_missing_a_required_field_is_refused() -> None:
    entry = examples("rest_balance.json")[0]
    del entry["balance_dollars"]
    with pytest.raises(msgspec.ValidationError, match="balance_dollars"):
        schemas.DECODERS[schemas.Balance].decode(json.dumps(entry))


def test_every_error_shape_is_typed() -> None:
    bodies = [json.dumps(e).encode() for e in examples("rest_error.json")]
    errors = [KalshiApiError.from_response(400, body) for body in bodies]
    assert (errors[0].code, errors[0].details) == ("authentication_error", "INCORRECT_API_KEY_SIGNATURE")
    assert errors[2].is_code("order_already_exists") and errors[2].service == "exchange"
    assert (errors[5].code, errors[5].details) == ("invalid_order", "post only cross")
    assert errors[6].code == "bad_request" and "CreateOrderV2Request.count" in errors[6].details
    assert errors[7].code == "" and "Parameter validation failed" in errors[7].message
    assert errors[8].message == "too many requests"
    assert KalshiApiError.from_response(502, b"<html>bad gateway</html>").message == "<html>bad gateway</html>"


async def test_tiers_follow_kalshi_documented_limits(signer) -> None:
    url = "http://127.0.0.1:9/trade-api/v2"
    async with KalshiRestClient(url, signer) as http:
        assert (http.read_bucket.rate, http.write_bucket.rate) == (200, 100)  # Basic
    async with KalshiRestClient(url, signer, tier="premier") as http:
        assert (http.read_bucket.rate, http.write_bucket.rate) == (1_000, 1_000)
    with pytest.raises(ValueError, match="tier"):
        KalshiRestClient(url, signer, tier="gold")


async def test_token_bucket_spends_and_refills() -> None:
    bucket = TokenBucket(rate=1_000_000, capacity=10)
    await bucket.acquire(10)
    assert bucket.tokens < 1
    await bucket.acquire(10)  # refills at the rate rather than failing
    assert bucket.tokens <= bucket.capacity


# ---- against the simulator -----------------------------------------------------------


async def test_markets_paginate_across_pages(client, sim) -> None:
    markets = await client.markets(limit=1)
    assert [m.ticker for m in markets] == sim.exchange.tickers
    assert (await client.market(sim.exchange.tickers[0])).ticker == sim.exchange.tickers[0]


async def test_repeated_cursor_ends_the_loop(signer) -> None:
    """Kalshi answers a garbage cursor with 200 (PROTOCOL 9); a server that keeps
    returning the same cursor must not keep us paging forever."""
    page = examples("rest_markets.json")[0]
    cursors = []

    def stuck(request: httpx.Request) -> httpx.Response:
        cursors.append(request.url.params.get("cursor"))
        return httpx.Response(200, json={**page, "cursor": "stuck"})

    url = "http://kalshi.invalid/trade-api/v2"
    async with KalshiRestClient(url, signer, transport=httpx.MockTransport(stuck)) as http:
        markets = await http.markets()
    assert cursors == [None, "stuck"] and len(markets) == 2 * len(page["markets"])


async def test_orderbook_and_trades_agree_with_the_simulator(client, sim) -> None:
    ticker = sim.exchange.tickers[0]
    sim.step(50)
    sim.control({"action": "whale", "market_ticker": ticker, "count": "20000.00"})
    book = await client.orderbook(ticker)
    assert dict(book.yes) == sim.exchange.books[ticker].yes and dict(book.no) == sim.exchange.books[ticker].no
    trades = await client.trades(ticker=ticker)
    assert [t.trade_id for t in trades] == [t.trade_id for t in reversed(sim.exchange.trades) if t.ticker == ticker]
    assert trades[0].count == parse_count("20000.00")


async def test_create_fill_then_positions_and_balance_agree(client, sim) -> None:
    ticker = sim.exchange.tickers[0]
    yes_ask = sim.exchange.books[ticker].top().yes_ask
    ack = await client.create_order(
        ticker=ticker,
        side="bid",
        count=500,
        price=yes_ask,
        time_in_force="immediate_or_cancel",
        client_order_id="rest-1",
    )
    assert ack.fill_count == 500 and ack.remaining_count == 0 and ack.average_fill_price == yes_ask
    order = await client.order(ack.order_id)
    assert order.status == "executed" and order.client_order_id == "rest-1" and order.outcome_side == "yes"
    fills = await client.fills(order_id=ack.order_id)
    assert sum(f.count for f in fills) == 500 and all(f.yes_price == yes_ask for f in fills)
    positions = await client.positions()
    sim_position = sim.exchange.account.positions[ticker]
    [position] = positions.market_positions
    assert (position.ticker, position.position) == (ticker, sim_position.position) == (ticker, 500)
    assert position.fees_paid == sim_position.fees_paid == sum(f.fee for f in fills)
    balance = await client.balance()
    assert balance.cash == sim.exchange.account.balance
    assert balance.cash == 1_000 * 1_000_000 - yes_ask * 500 - position.fees_paid


async def test_cancel_a_resting_order_and_cancel_again(client, sim) -> None:
    ticker = sim.exchange.tickers[0]
    price = sim.exchange.books[ticker].top().yes_bid - 500
    ack = await client.create_order(ticker=ticker, side="bid", count=300, price=price, **ORDER_DEFAULTS)
    assert ack.remaining_count == 300 and ack.client_order_id.startswith("v3-")  # one is made when none is given
    assert [o.order_id for o in await client.orders(ticker=ticker, status="resting")] == [ack.order_id]
    cancel = await client.cancel_order(ack.order_id, market_ticker=ticker)
    assert cancel.reduced_by == 300 and (await client.order(ack.order_id)).status == "canceled"
    with pytest.raises(KalshiApiError) as caught:
        await client.cancel_order(ack.order_id)
    assert caught.value.status == 404 and caught.value.is_code("not_found")


async def test_create_retried_after_a_server_error_places_one_order(client, sim) -> None:
    sim.control({"action": "reject", "status": 503, "count": 2})
    ticker = sim.exchange.tickers[1]
    price = sim.exchange.books[ticker].top().yes_bid
    ack = await client.create_order(
        ticker=ticker, side="bid", count=100, price=price, client_order_id="retry-503", **ORDER_DEFAULTS
    )
    assert client.metrics.retries == 2
    assert [o.order_id for o in sim.exchange.account.orders.values() if o.client_order_id == "retry-503"] == [
        ack.order_id
    ]


class LoseFirstCreateAnswer(httpx.AsyncBaseTransport):
    """The network drops the answer to the first order create after the exchange placed it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/events/orders") and not self.lost:
            await response.aread()
            await response.aclose()
            self.lost += 1
            raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_create_whose_answer_was_lost_returns_the_first_order(sim, signer) -> None:
    transport = LoseFirstCreateAnswer()
    ticker = sim.exchange.tickers[0]
    price = sim.exchange.books[ticker].top().yes_bid
    async with KalshiRestClient(sim.rest_url, signer, base_delay=0.01, transport=transport) as http:
        ack = await http.create_order(
            ticker=ticker, side="bid", count=100, price=price, client_order_id="lost-answer", **ORDER_DEFAULTS
        )
        assert transport.lost == 1 and ack.recovered and http.metrics.recovered_orders == 1
    placed = [o for o in sim.exchange.account.orders.values() if o.client_order_id == "lost-answer"]
    assert [o.order_id for o in placed] == [ack.order_id]
    assert ack.remaining_count == placed[0].remaining


async def test_reusing_a_client_order_id_on_a_first_attempt_is_an_error(client, sim) -> None:
    ticker = sim.exchange.tickers[0]
    price = sim.exchange.books[ticker].top().yes_bid
    order = {"ticker": ticker, "side": "bid", "count": 100, "price": price, "client_order_id": "dup-1"}
    await client.create_order(**order, **ORDER_DEFAULTS)
    with pytest.raises(KalshiApiError) as caught:
        await client.create_order(**order, **ORDER_DEFAULTS)
    assert caught.value.status == 409 and caught.value.is_code("order_already_exists")
    assert (await client.find_order("dup-1", ticker=ticker)).client_order_id == "dup-1"
    assert len([o for o in sim.exchange.account.orders.values() if o.client_order_id == "dup-1"]) == 1


async def test_reads_are_retried_on_429(client, sim) -> None:
    sim.control({"action": "reject", "count": 2})
    balance = await client.balance()
    assert balance.cash == sim.exchange.account.balance
    assert client.metrics.rate_limited == 2 and client.metrics.retries == 2


async def test_retries_give_up_with_the_typed_error(sim, signer) -> None:
    sim.control({"action": "reject", "status": 500, "count": 10})
    async with KalshiRestClient(sim.rest_url, signer, max_retries=2, base_delay=0.01) as http:
        with pytest.raises(KalshiApiError) as caught:
            await http.balance()
    assert caught.value.status == 500 and caught.value.code == "internal_server_error"


async def test_errors_are_typed(client, sim) -> None:
    with pytest.raises(KalshiApiError) as caught:
        await client.market("KXNOPE-00JAN01")
    assert caught.value.status == 404 and caught.value.code == "not_found"
    with pytest.raises(KalshiApiError) as caught:
        await client.markets(limit=1001)
    assert caught.value.status == 400 and "Parameter validation failed" in caught.value.message
    ticker = sim.exchange.tickers[0]
    with pytest.raises(KalshiApiError) as caught:
        await client.create_order(ticker=ticker, side="bid", count=100, price=parse_price("0.0050"), **ORDER_DEFAULTS)
    assert caught.value.status == 400


async def test_unexpected_body_is_a_response_error(signer) -> None:
    body = examples("rest_balance.json")[0]
    del body["balance_dollars"]
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    async with KalshiRestClient("http://kalshi.invalid/trade-api/v2", signer, transport=transport) as http:
        with pytest.raises(KalshiResponseError, match=r"GET /portfolio/balance.*balance_dollars"):
            await http.balance()


@pytest.mark.parametrize(("count", "price"), [(0, 4400), (-100, 4400), (100, 0), (100, 10_000)])
async def test_impossible_orders_are_refused_before_sending(client, sim, count: int, price: int) -> None:
    with pytest.raises(ValueError, match="order"):
        await client.create_order(
            ticker=sim.exchange.tickers[0], side="bid", count=count, price=price, **ORDER_DEFAULTS
        )
    assert client.metrics.requests == 0
