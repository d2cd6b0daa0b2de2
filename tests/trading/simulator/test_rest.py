"""REST reads: filters, cursor pagination (the last page has cursor "", a garbage cursor
is not an error), depth, 404s, and market fields that follow the book."""

import httpx
import pytest

from tests.trading.simulator.conftest import order_body, signing_client
from trading.simulator.server import SimConfig, SimulatorServer

ORDERS = "/portfolio/events/orders"


@pytest.fixture
def sim_config(sim_config: SimConfig) -> SimConfig:
    sim_config.markets = 9
    return sim_config


async def test_markets_page_through_with_the_cursor(sim: SimulatorServer):
    async with signing_client(sim, None) as client:
        tickers, cursor, pages = [], None, 0
        while True:
            params = {"limit": 4} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/markets", params=params)).json()
            tickers += [m["ticker"] for m in page["markets"]]
            pages += 1
            cursor = page["cursor"]
            if not cursor:
                break
        assert tickers == sim.exchange.tickers and pages == 3
        garbage = await client.get("/markets", params={"cursor": "not-a-cursor!"})
        assert garbage.status_code == 200 and garbage.json() == {"cursor": "", "markets": []}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"series_ticker": "KXFED"}, lambda m: m.series_ticker == "KXFED"),
        ({"event_ticker": "KXBTCD-26DEC3117"}, lambda m: m.event_ticker == "KXBTCD-26DEC3117"),
        ({"status": "open"}, lambda m: True),
        ({"status": "settled"}, lambda m: False),
    ],
)
async def test_market_filters(sim: SimulatorServer, params: dict, expected):
    async with signing_client(sim, None) as client:
        markets = (await client.get("/markets", params=params)).json()["markets"]
    assert [m["ticker"] for m in markets] == [t for t, m in sim.exchange.markets.items() if expected(m)]


async def test_markets_by_ticker_list(sim: SimulatorServer):
    wanted = sim.exchange.tickers[2:5]
    async with signing_client(sim, None) as client:
        markets = (await client.get("/markets", params={"tickers": ",".join(wanted)})).json()["markets"]
    assert [m["ticker"] for m in markets] == wanted


async def test_market_prices_follow_the_book(sim: SimulatorServer):
    ticker = sim.exchange.tickers[0]
    sim.exchange.set_book(ticker, yes={4100: 100, 4300: 85_000}, no={5500: 450_000})
    sim.publish()
    async with signing_client(sim, None) as client:
        market = (await client.get(f"/markets/{ticker}")).json()["market"]
        top = (await client.get(f"/markets/{ticker}/orderbook", params={"depth": 1})).json()
        unknown = await client.get("/markets/KXNOPE-26DEC31-T1")
        unknown_book = await client.get("/markets/KXNOPE-26DEC31-T1/orderbook")
        no_route = await client.get("/series/KXBTCD/nothing")
    assert (market["yes_bid_dollars"], market["yes_bid_size_fp"]) == ("0.4300", "850.00")
    assert (market["yes_ask_dollars"], market["yes_ask_size_fp"]) == ("0.4500", "4500.00")
    assert (market["no_bid_dollars"], market["no_ask_dollars"]) == ("0.5500", "0.5700")
    assert top == {"orderbook_fp": {"yes_dollars": [["0.4300", "850.00"]], "no_dollars": [["0.5500", "4500.00"]]}}
    for response in (unknown, unknown_book, no_route):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


async def test_orders_and_fills_filters(sim: SimulatorServer, rest: httpx.AsyncClient):
    t1, t2 = sim.exchange.tickers[:2]
    for ticker in (t1, t2):
        sim.exchange.set_book(ticker, yes={4000: 10_000}, no={5000: 10_000})
    sim.publish()
    filled = (await rest.post(ORDERS, json=order_body(t1, "bid", "5", "0.50", "immediate_or_cancel"))).json()
    resting = (await rest.post(ORDERS, json=order_body(t2, "bid", "5", "0.45"))).json()
    by_status = (await rest.get("/portfolio/orders", params={"status": "resting"})).json()["orders"]
    assert [o["order_id"] for o in by_status] == [resting["order_id"]]
    by_ticker = (await rest.get("/portfolio/orders", params={"ticker": t1})).json()["orders"]
    assert [o["order_id"] for o in by_ticker] == [filled["order_id"]]
    newest_first = (await rest.get("/portfolio/orders", params={"limit": 1})).json()
    assert newest_first["orders"][0]["order_id"] == resting["order_id"] and newest_first["cursor"]
    fills = (await rest.get("/portfolio/fills", params={"ticker": t2})).json()["fills"]
    assert fills == []
    positions = (await rest.get("/portfolio/positions", params={"count_filter": "position"})).json()
    assert [p["ticker"] for p in positions["market_positions"]] == [t1]
    assert positions["market_positions"][0]["resting_orders_count"] == 0
    missing = await rest.get("/portfolio/orders/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404


async def test_exchange_status_is_public(sim: SimulatorServer):
    async with signing_client(sim, None) as client:
        assert (await client.get("/exchange/status")).json() == {
            "exchange_active": True,
            "trading_active": True,
            "exchange_estimated_resume_time": None,
        }
