"""Which markets dashboard users watch (``MarketWatch`` rows): written by the browsers'
sockets (dashboard.consumers), read by the feed runner, which keeps those markets'
books (trading.feed.book_markets). A database row rather than a message because the
runner and the web processes are different processes, and the embedded default has
a database but no Redis.

Services: ``watch_market``, ``unwatch_market``, ``renew_watches`` (keyword-only); the
read is ``trading.selectors.watched_markets``.
"""

import time

from trading.models import MarketWatch


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
