"""Trade backfill: the public trades a runner missed (while its connection was down,
while it restarted, while it stood by) read from REST and fed through the same whale
path as live ones, after every (re)connection and so after every takeover.

Each market is read with ``GET /markets/trades?ticker=T&min_ts=...`` from its mark
(trading.feed.marks), cursor page by cursor page. Marks move only while the tape is
gap-free: from a connection's live trades once that connection's backfill is done,
and from the backfilled trades themselves; so a backfill never starts after a trade
it has not seen. Duplicates cannot come through: the trade feed drops a trade id it
has seen (live trades overlap the backfill by the seconds of a reconnect), and
``WhaleTrade.trade_id`` is unique, so a whale the dead runner recorded is not
recorded again by its standby. A whale found this way keeps its true trade time and
the decision rules judge its age as usual.

A runner of the whole exchange's trade stream (no tickers) keeps one mark,
``EXCHANGE_MARK``, and reads ``GET /markets/trades`` without a ticker, every cursor
page, up to ``MAX_EXCHANGE_TRADES``.
"""

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async

from trading import events, publisher
from trading.feed.bus import TradeReceived
from trading.feed.marks import Mark, load_marks, save_marks
from trading.feed.threads import fresh_connection
from trading.feed.trades import EXCHANGE_MARK, Taken, TradeFeed
from trading.health import ComponentHealth, Criticality
from trading.kalshi.errors import KalshiApiError, KalshiResponseError, KalshiTransportError
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.schemas import rest as rest_schemas

logger = logging.getLogger(__name__)

# At most this many trades per market per backfill, the newest kept (ten REST pages):
# a runner down for a day would otherwise replay a whole day of tape, and whales
# that old are skipped as whale_too_old anyway. What is cut off is counted.
MAX_TRADES_PER_MARKET = 10_000
# The whole exchange's tape is one listing: a hundred pages, an hour and more of
# Kalshi's public trades (tens a second), or 50 s at the 2,000 a second bench/ drives.
MAX_EXCHANGE_TRADES = 100_000
# How often the loop looks for a new connection: a backfill starts at most this long
# after the trade subscription is back, cheap enough to poll.
POLL_INTERVAL = 0.25
# Marks are written this often: a standby re-reads at most this much tape twice
# (dropped as duplicates), and a busy feed costs one small write a second.
FLUSH_INTERVAL = 1.0
# After a failed backfill (the REST client has already retried), try again this much later.
RETRY_DELAY = 5.0


def rest_public_trade(trade: rest_schemas.PublicTrade) -> TradeReceived:
    """A REST trade in the feed's shape (the WebSocket's ``trades.public_trade`` twin)."""
    return TradeReceived(
        trade_id=trade.trade_id,
        ticker=trade.ticker,
        yes_price=trade.yes_price,
        count=trade.count,
        taker_side=trade.taker_outcome_side,
        ts=trade.created_time.timestamp(),
    )


async def missed_trades(
    rest: KalshiRestClient, *, since: Mark, ticker: str | None, limit: int = MAX_TRADES_PER_MARKET
) -> tuple[list[TradeReceived], int]:
    """Trades at or after ``since`` (one market, or every market with ``ticker=None``),
    oldest first, without ``since`` itself; and how many older ones ``limit`` cut off
    (at least 1 when it cut any: the listing is not read further to count them).

    ``min_ts`` is whole seconds, so the second of the mark is read again; trades of that
    second the runner has seen are dropped as duplicates by the trade feed."""
    listed = await rest.trades(ticker=ticker, min_ts=int(since.traded_at), max_items=limit + 1)
    trades = [
        trade
        for trade in map(rest_public_trade, listed)  # newest first, as Kalshi lists them
        if trade.ts >= since.traded_at and trade.trade_id != since.trade_id
    ]
    cut = max(0, len(trades) - limit)
    return trades[: len(trades) - cut][::-1], cut


@fresh_connection
def _load(tickers: list[str]) -> dict[str, Mark]:
    return load_marks(tickers)


@fresh_connection
def _save(marks: dict[str, Mark]) -> None:
    save_marks(marks=marks)


class TradeBackfill:
    """Runs beside the trade feed: backfills after each new connection, keeps the marks."""

    def __init__(self, feed: TradeFeed, rest: KalshiRestClient) -> None:
        self.feed = feed
        self.rest = rest
        self.marks: dict[str, Mark] = {}
        self._unsaved: dict[str, Mark] = {}
        self.backfilled_for = 0  # the client's connection count whose gap is filled
        self.runs = 0
        self.trades = 0
        self.whales = 0
        self.cut_off = 0
        self.failures = 0
        self.last: dict[str, Any] | None = None
        self.last_error = ""

    def contiguous(self) -> bool:
        """Whether every trade since the marks has been seen: the current connection's gap is filled."""
        return self.backfilled_for == self.feed.client.metrics.connects

    async def run(self) -> None:
        await self._load_marks()
        flushed = time.monotonic()
        while True:
            connection = self.feed.client.metrics.connects
            if self.feed.subscribed() and connection != self.backfilled_for:
                try:
                    await self.backfill(connection)
                except Exception as exc:  # REST down after its retries, or a bug: never the end of backfilling
                    self._failed(exc)
                    await asyncio.sleep(RETRY_DELAY)
                    continue
            if self.contiguous():
                self._advance()
            if self._unsaved and time.monotonic() - flushed >= FLUSH_INTERVAL:
                await self.flush()
                flushed = time.monotonic()
            await asyncio.sleep(POLL_INTERVAL)

    async def _load_marks(self) -> None:
        """The persisted marks, before the first backfill; retried while the database is away."""
        while True:
            try:
                self.marks = await sync_to_async(_load)(self.feed.tapes)
                return
            except Exception as exc:  # any database error: nothing can be backfilled without the marks
                self._failed(exc)
                await asyncio.sleep(RETRY_DELAY)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        # The exchange being away is expected and needs no traceback; anything else does.
        expected = isinstance(exc, (KalshiApiError, KalshiResponseError, KalshiTransportError))
        logger.error("trade backfill: %s; trying again in %.0f s", self.last_error, RETRY_DELAY, exc_info=not expected)

    async def backfill(self, connection: int) -> None:
        """Read what was missed since each market's mark and feed it through the whale path."""
        started = time.time()
        markets = trades = whales = cut_off = 0
        for ticker in self.feed.tapes:
            mark = self.marks.get(ticker)
            if mark is None:
                continue
            whole = ticker == EXCHANGE_MARK
            missed, cut = await missed_trades(
                self.rest,
                since=mark,
                ticker=None if whole else ticker,
                limit=MAX_EXCHANGE_TRADES if whole else MAX_TRADES_PER_MARKET,
            )
            markets += 1
            cut_off += cut
            for trade in missed:
                taken = self.feed.take(trade)
                trades += taken is not Taken.DUPLICATE
                whales += taken is Taken.WHALE
            if cut:
                logger.warning(
                    "trade backfill of %s: %d+ older trades beyond the last %d not read", ticker, cut, len(missed)
                )
        if self.feed.client.metrics.connects != connection:
            logger.info("trade backfill: the connection changed meanwhile; backfilling again")
            return
        self.backfilled_for = connection
        self._advance()
        self.runs += 1
        self.trades += trades
        self.whales += whales
        self.cut_off += cut_off
        self.last_error = ""
        self.last = {"at": started, "markets": markets, "trades": trades, "whales": whales, "cut_off": cut_off}
        if markets:
            await self._announce(self.last, connection)

    def _advance(self) -> None:
        """The feed's newest trades become the marks (only called while the tape is gap-free)."""
        for ticker, latest in self.feed.latest.items():
            mark = self.marks.get(ticker)
            if mark is None or latest.traded_at > mark.traded_at:
                self.marks[ticker] = self._unsaved[ticker] = latest

    async def close(self) -> None:
        """At a graceful stop: the last marks, so the next runner starts where this one ended."""
        if self.contiguous():
            self._advance()
        await self.flush()

    async def flush(self) -> None:
        """Persist the marks that moved; never raises (the next flush tries again)."""
        unsaved, self._unsaved = self._unsaved, {}
        try:
            await sync_to_async(_save)(unsaved)
        except Exception:  # a database hiccup must not stop the feed; the marks stay in memory
            logger.exception("saving %d trade marks failed; retrying", len(unsaved))
            self._unsaved = {**unsaved, **self._unsaved}

    async def _announce(self, last: dict[str, Any], connection: int) -> None:
        why = "start-up" if connection == 1 else "reconnect"
        where = f"on {last['markets']} markets" if self.feed.tickers else "across the exchange"
        message = f"backfilled {last['trades']} missed trades {where} after {why}"
        if last["whales"]:
            message += f", {last['whales']} of them whales"
        if last["cut_off"]:
            limit = MAX_TRADES_PER_MARKET if self.feed.tickers else MAX_EXCHANGE_TRADES
            message += (
                f"; older trades beyond the last {limit} {'per market ' if self.feed.tickers else ''}were not read"
            )
        logger.info("trade backfill: %s", message)
        await publisher.apublish(
            events.SYSTEM_ACTIVITY,
            events.activity(
                source="backfill", level="warning" if last["cut_off"] else "info", message=message, details=last
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "trades": self.trades,
            "whales": self.whales,
            "cut_off": self.cut_off,
            "failures": self.failures,
            "last": self.last,
        }

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            "trade_backfill",
            not self.last_error,
            Criticality.NON_CRITICAL,
            self.last_error,
            self.to_dict(),
        )
