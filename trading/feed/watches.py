"""Which markets dashboard users watch (``MarketWatch`` rows): written by the browsers'
sockets (dashboard.consumers), read by the feed runner, which keeps those markets'
books (trading.feed.book_markets). A database row rather than a message because the
runner and the web processes are different processes, and the embedded default has
a database but no Redis.

Services: ``watch_market``, ``unwatch_market``, ``renew_watches`` (keyword-only); the
read is ``trading.selectors.watched_markets``; ``why_unwatchable`` says when a ticker
cannot be watched.
"""

import time

from django.conf import settings

from trading import selectors
from trading.execution import loop
from trading.kalshi.errors import KalshiApiError
from trading.kalshi.rest import KalshiRestClient
from trading.models import MarketWatch

# A 404 from Kalshi's market route: the exchange lists no such market.
NOT_FOUND = 404


def why_unwatchable(ticker: str) -> str | None:
    """Why a browser cannot watch ``ticker`` (a panel that would wait forever), or None.

    A runner given its markets knows them all. One watching the whole exchange keeps books
    only where they matter, and watching a market is what adds its book, so a market it has
    no book for yet is asked of the exchange (one REST read, on a user's click)."""
    followed, whole_exchange = selectors.runner_scope()
    if not followed or ticker in followed:
        return None
    if not whole_exchange:
        return f"{ticker} is not one of the {len(followed)} markets the feed runner follows"
    # One client per process and exchange URL, kept on the execution loop (its pool belongs to it).
    client = loop.loop_value(f"watch_rest:{settings.KALSHI.api_url}", KalshiRestClient.from_settings)
    try:
        market = loop.run(client.market(ticker))
    except KalshiApiError as exc:
        if exc.status == NOT_FOUND:
            return f"{ticker} is not a market the exchange lists"
        raise
    return None if market.status in ("active", "open") else f"{ticker} is {market.status}, not trading"


def watch_market(*, socket_id: str, ticker: str, ttl: float) -> None:
    """``socket_id`` watches ``ticker`` for ``ttl`` seconds (again, if it did already)."""
    MarketWatch.objects.update_or_create(
        socket_id=socket_id, market_ticker=ticker, defaults={"expires_at": time.time() + ttl}
    )


def unwatch_market(*, socket_id: str, ticker: str | None = None) -> None:
    """``socket_id`` stops watching ``ticker``, or every market when ``ticker`` is None."""
    watches = MarketWatch.objects.filter(socket_id=socket_id)
    if ticker is not None:
        watches = watches.filter(market_ticker=ticker)
    watches.delete()


def renew_watches(*, socket_id: str, ttl: float) -> None:
    """The socket is still there: its watches last ``ttl`` seconds more; expired ones are deleted."""
    now = time.time()
    MarketWatch.objects.filter(socket_id=socket_id).update(expires_at=now + ttl)
    MarketWatch.objects.filter(expires_at__lt=now).delete()
