"""A runner watching the whole exchange, against the simulator over a real WebSocket and
real REST: whales in markets it keeps no book for, every market's quote, books added
and removed on the one connection where they matter, and the exchange-wide backfill."""

import asyncio
import time

import pytest

from tests.simulators import quiet_simulator
from tests.trading.feed.harness import NO_WHALES, feed_config, running_feed, sim_client, sim_rest
from tests.waiting import eventually
from trading.feed.service import Stop, serve
from trading.feed.trades import EXCHANGE_MARK
from trading.models import MarketWatch, Position, WhaleTrade
from trading.units import MONEY_SCALE

pytestmark = pytest.mark.django_db(transaction=True)

ABSOLUTE_ONLY = {"whale_min_notional": 1_000 * MONEY_SCALE, "whale_relative_factor": 1e12}
WHALE_COUNT = "50000.00"


def _in_sync(runner, sim, ticker: str) -> bool:
    book = runner.get_orderbook(ticker)
    return book is not None and not book.stale and book.levels() == sim.exchange.books[ticker].levels()


async def test_whale_in_a_market_without_a_book_is_detected_and_its_book_added_on_the_same_connection(handed):
    async with running_feed(markets=12, booked=2, **ABSOLUTE_ONLY) as (sim, runner):
        quiet = sim.exchange.tickers[9]
        await eventually(runner.books.all_synced, "the first two books")
        assert runner.get_orderbook(quiet) is None
        sim.step(300)
        trade = sim.control({"action": "whale", "market_ticker": quiet, "count": WHALE_COUNT})["trade"]

        await eventually(lambda: runner.whales.whales == 1, "the whale recorded")
        whale = await WhaleTrade.objects.aget()
        assert (whale.trade_id, whale.market_ticker) == (trade["trade_id"], quiet)
        await eventually(lambda: _in_sync(runner, sim, quiet), "the whale market's book, in sync")
        sim.step(500)
        await eventually(lambda: _in_sync(runner, sim, quiet), "the book kept exact by its deltas")
        assert runner.client.metrics.connects == 1, "added by update_subscription, not by reconnecting"
        assert runner.keeper.added == 1 and quiet in runner.status()["markets"]
        assert set(whale.quote) == {"bid", "ask", "last", "ts"}, "the market's quote when the whale was seen"
        assert whale.quote["last"] is not None and whale.quote["ts"] <= whale.detected_at


async def test_every_market_has_a_quote_without_a_book():
    async with running_feed(markets=12, booked=1, **NO_WHALES) as (sim, runner):
        await eventually(lambda: len(runner.prices) == 12, "a quote per market (initial snapshot)")
        sim.step(2_000)
        ticker = sim.exchange.tickers[7]

        def quote_matches() -> bool:
            quote = runner.prices.get(ticker)
            yes_bid, _, yes_ask, _ = sim.exchange.best(ticker)
            return quote is not None and (quote.bid, quote.ask) == (yes_bid, yes_ask)

        await eventually(quote_matches, "the quote following the simulator's book")
        assert runner.get_orderbook(ticker) is None
        assert runner.prices.get("NOT-A-MARKET") is None
        await eventually(lambda: runner.trades.trades > 0, "trades")
        assert runner.trades.tickers == [], "trades of every market, unfiltered"
        assert {ticker for ticker, _ in runner.market_events._tapes.items()} <= {sim.exchange.tickers[0]}, (
            "market events only for the markets with books"
        )


async def test_books_follow_positions_and_watched_markets():
    async with running_feed(markets=8, booked=1, **NO_WHALES) as (sim, runner):
        held, watched = sim.exchange.tickers[3], sim.exchange.tickers[5]
        await eventually(runner.books.all_synced, "the first book")
        await Position.objects.acreate(market_ticker=held, position=1_000)
        await MarketWatch.objects.acreate(market_ticker=watched, socket_id="s1", expires_at=time.time() + 60)
        await eventually(lambda: _in_sync(runner, sim, held) and _in_sync(runner, sim, watched), "both books")

        await MarketWatch.objects.all().adelete()
        await Position.objects.filter(market_ticker=held).aupdate(position=0)
        await eventually(lambda: runner.books.tickers == [sim.exchange.tickers[0]], "both books removed")
        assert held not in runner.client.books and watched not in runner.client.books
        sim.step(500)
        assert runner.client.metrics.connects == 1
        # An expired watch keeps no book.
        await MarketWatch.objects.acreate(market_ticker=watched, socket_id="s2", expires_at=time.time() - 1)
        await runner.keeper.refresh()
        assert watched not in runner.books.tickers


async def test_the_book_cap_keeps_the_newest_whales_and_counts_the_rest(handed):
    async with running_feed(markets=8, booked=1, max_books=2, **ABSOLUTE_ONLY) as (sim, runner):
        await eventually(runner.books.all_synced, "the first book")
        first, second = sim.exchange.tickers[4], sim.exchange.tickers[6]
        sim.control({"action": "whale", "market_ticker": first, "count": WHALE_COUNT})
        await eventually(lambda: first in runner.books.tickers, "the first whale's book")
        sim.control({"action": "whale", "market_ticker": second, "count": WHALE_COUNT})
        await eventually(lambda: second in runner.books.tickers, "the second whale's book")
        assert first not in runner.books.tickers
        assert runner.keeper.capped == 1 and not runner.keeper.health().healthy


async def test_exchange_wide_backfill_finds_a_whale_missed_in_any_market(handed):
    async with running_feed(markets=10, booked=1, backfill=True, **ABSOLUTE_ONLY) as (sim, runner):
        await eventually(lambda: runner.backfill.runs == 1, "the start-up backfill")
        sim.step(1_000)
        await eventually(lambda: EXCHANGE_MARK in runner.backfill.marks, "the exchange's mark")
        await runner.backfill.flush()
        assert list(runner.backfill.marks) == [EXCHANGE_MARK], "one mark for the whole tape"

        sim.control({"action": "reject", "target": "ws", "count": 1_000})
        sim.control({"action": "drop"})
        await eventually(lambda: not runner.client.connected.is_set(), "the runner disconnected")
        ticker = sim.exchange.tickers[8]
        trade = sim.control({"action": "whale", "market_ticker": ticker, "count": WHALE_COUNT})["trade"]
        sim.step(200)
        missed = len(sim.exchange.trades) - next(
            i for i, t in enumerate(sim.exchange.trades) if t.trade_id == trade["trade_id"]
        )
        assert len({t.ticker for t in sim.exchange.trades[-missed:]}) > 1, "missed trades in several markets"
        sim.control({"action": "reject", "target": "ws", "count": 0})

        await eventually(lambda: runner.backfill.runs == 2, "the backfill after the reconnection")
        await eventually(lambda: runner.whales.whales == 1, "the missed whale recorded")
        whale = await WhaleTrade.objects.aget()
        assert (whale.trade_id, whale.market_ticker) == (trade["trade_id"], ticker)
        assert runner.backfill.last["whales"] == 1 and runner.backfill.last["trades"] >= missed


async def test_run_feeds_without_markets_subscribes_to_the_whole_exchange_and_with_markets_to_those(handed):
    async with quiet_simulator(6, 5) as sim:
        for explicit, streamed in (([], None), (sim.exchange.tickers[:2], set(sim.exchange.tickers[:2]))):
            stop, rest = Stop(), sim_rest(sim.rest_url)
            run = asyncio.create_task(
                serve(
                    explicit=explicit,
                    count=1,
                    stop=stop,
                    client=sim_client(sim.ws_url),
                    rest=rest,
                    config=feed_config(**ABSOLUTE_ONLY),
                )
            )

            def subscribed() -> dict:
                channels = ("trade", "ticker")
                return {c: s.tickers for conn in sim.connections for c in channels for s in conn.by_channel.get(c, ())}

            await eventually(lambda: len(subscribed()) == 2, "trade and ticker subscriptions")
            assert subscribed() == {"trade": streamed, "ticker": streamed}
            stop.request("test over")
            assert await run == "test over"
            await rest.aclose()
            await eventually(lambda: not sim.connections, "the runner's connection gone")
