"""Markets' lifecycle from the ``market_lifecycle_v2`` channel (every market, PROTOCOL.md
6.7): which markets have closed, and each settlement recorded through the execution
service (trading.execution.settlements, once per market, so reconciliation finding the
same settlement later adds nothing).

A ``settled`` message carries no result: the ``determined`` one before it does. When
that was missed (the runner started between the two, or a reconnect lost it) the result
is read from the market by REST; a settlement that still cannot be recorded is logged,
counted, and left to reconciliation."""

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from trading.exchange import SettlementReport
from trading.feed.channel import ChannelFeed
from trading.feed.threads import fresh_connection
from trading.health import ComponentHealth, Criticality
from trading.kalshi import messages as m
from trading.kalshi.rest import KalshiApiError, KalshiResponseError, KalshiRestClient, KalshiTransportError
from trading.kalshi.ws import KalshiWebSocket

logger = logging.getLogger(__name__)

MarketCallback = Callable[[str], Awaitable[None]]

LIFECYCLE_CHANNEL = "market_lifecycle_v2"
# Lifecycle events that end trading in a market.
CLOSING_EVENTS = frozenset({"determined", "settled"})
# Closed markets and determined results remembered: far more than settle between a
# market's determination and its settlement, bounded so a years-long run does not grow.
MAX_REMEMBERED = 10_000
# A failed settlement record keeps this component unhealthy this long (reconciliation repairs it).
FAILURE_WINDOW = 60.0


@fresh_connection
def _record(report: SettlementReport) -> bool:
    from trading.execution.settlements import record_settlement

    return record_settlement(report=report) is not None


class LifecycleFeed(ChannelFeed):
    channels = (LIFECYCLE_CHANNEL,)
    types = (m.MarketLifecycle, m.EventLifecycle)

    def __init__(
        self,
        client: KalshiWebSocket,
        *,
        rest: KalshiRestClient | None = None,
        on_closed: MarketCallback | None = None,
        on_created: MarketCallback | None = None,
    ) -> None:
        """``on_closed`` runs once for each market that stops trading, ``on_created`` for each new listing."""
        super().__init__(client)  # no tickers: lifecycle comes for the whole exchange
        self.rest = rest
        self.on_closed = on_closed
        self.on_created = on_created
        self.closed: OrderedDict[str, None] = OrderedDict()
        self.results: OrderedDict[str, str] = OrderedDict()
        self.messages = 0
        self.settlements = 0
        self.failures = 0
        self.last_failure_at = 0.0
        self.last_error = ""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lifecycle")

    def is_closed(self, ticker: str) -> bool:
        return ticker in self.closed

    async def stop(self) -> None:
        await super().stop()
        self._executor.shutdown(wait=True)

    async def process(self, msg: m.MarketLifecycle | m.EventLifecycle) -> None:
        self.messages += 1
        if not isinstance(msg, m.MarketLifecycle):
            return
        body = msg.msg
        ticker = body.market_ticker
        closing = body.event_type in CLOSING_EVENTS or (
            body.event_type == "close_date_updated" and body.close_ts is not None and body.close_ts <= time.time()
        )
        if closing and ticker not in self.closed:
            _remember(self.closed, ticker, None)
            if self.on_closed is not None:
                await self.on_closed(ticker)
        if body.event_type == "created" and self.on_created is not None:
            await self.on_created(ticker)
        if body.event_type == "determined" and body.result:
            _remember(self.results, ticker, body.result)
        elif body.event_type == "settled":
            await self._settled(ticker, body.settled_ts or time.time())

    async def _settled(self, ticker: str, settled_at: float) -> None:
        try:
            result = self.results.pop(ticker, None) or await self._read_result(ticker)
            report = SettlementReport(market_ticker=ticker, result=result, settled_at=float(settled_at))
            new = await asyncio.get_running_loop().run_in_executor(self._executor, _record, report)
        except Exception as exc:
            self.failures += 1
            self.last_failure_at = time.monotonic()
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception("settlement of %s could not be recorded; reconciliation will repair it", ticker)
            return
        if new:
            self.settlements += 1

    async def _read_result(self, ticker: str) -> str:
        if self.rest is None:
            raise ValueError(f"{ticker} settled with no determined result seen and no REST client to ask")
        try:
            return (await self.rest.market(ticker)).result
        except (KalshiApiError, KalshiResponseError, KalshiTransportError) as exc:
            raise ValueError(f"{ticker} settled; its result could not be read: {exc}") from exc

    def health(self) -> ComponentHealth:
        failing = self.failures > 0 and time.monotonic() - self.last_failure_at < FAILURE_WINDOW
        return ComponentHealth(
            "lifecycle",
            not failing,
            Criticality.NON_CRITICAL,
            self.last_error if failing else "",
            {
                "messages": self.messages,
                "closed_markets": len(self.closed),
                "settlements": self.settlements,
                "failures": self.failures,
                "listener_dropped": self.listener_dropped,
            },
        )


def _remember(store: OrderedDict, key: str, value: object) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > MAX_REMEMBERED:
        store.popitem(last=False)
