"""Which exchange gateway (trading.exchange.Gateway) a process uses, from the settings:

* ``TRADING_MODE=paper`` and ``KALSHI_ENV=sim``: the simulator over its real REST
  API (``RestGateway``, trading.kalshi.execution), so paper orders, fills and
  positions are the exchange's.
* ``TRADING_MODE=paper`` and ``KALSHI_ENV=demo|prod``: ``PaperBookGateway``
  (trading.execution.paper) reads the exchange's book over REST but never sends
  an order: a follow is filled locally against that book copy (what crosses the
  limit now fills, the rest is canceled), with Kalshi's taker fee.
* ``TRADING_MODE=live``: ``RestGateway`` on the configured exchange (settings
  refuse prod without ``V3_ALLOW_PROD=1``).

The "current book" of a decision: worker processes have no WebSocket, so the
book is read from REST ``GET /markets/{ticker}/orderbook`` at decision time
(one request, a few ms; sharing the feed's WebSocket books through Redis would
save it but adds a second source of truth). Its age is counted from when the
request was sent (the exchange may have taken the snapshot any time after); a
book older than ``EXEC_MAX_BOOK_AGE`` when the rules run is ``stale_book``.
Known gap: Kalshi's public market data may be edge-cached up to ~15 s
(PROTOCOL.md 6.1) and the REST client does not expose the ``Age`` header, so on
demo/prod a cached book can look fresher than it is.

One REST client per process lives on the execution loop (trading.execution.loop),
so its connection pool is reused by every task the process runs.
"""

from django.conf import settings

from trading.exchange import Gateway
from trading.execution import loop
from trading.execution.paper import PaperBookGateway
from trading.kalshi import rest
from trading.kalshi.execution import RestGateway
from trading.kalshi.hosts import sends_orders


def gateway() -> Gateway:
    """This process's gateway for the current settings (one per settings combination)."""
    paper_on_book = not sends_orders(kalshi_env=settings.KALSHI.env, trading_mode=settings.KALSHI.trading_mode)
    key = f"gateway:{settings.KALSHI.trading_mode}:{settings.KALSHI.env}:{settings.KALSHI.api_url}"

    def make() -> Gateway:
        client = rest.KalshiRestClient.from_settings()
        return PaperBookGateway(client) if paper_on_book else RestGateway(client)

    return loop.loop_value(key, make)
