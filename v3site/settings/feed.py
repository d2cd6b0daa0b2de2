"""The feed runner (trading.feed, ``manage.py run_feeds`` / ``run_all``): markets,
whale rule, health thresholds and periods (``FEED``, a trading.config.FeedConfig).
Seconds unless named otherwise."""

from django.core.exceptions import ImproperlyConfigured

from trading.config import FeedConfig
from v3site.settings.environment import env, integer, money, number

# A trade is a whale when its notional (count x the taker side's price) reaches
# WHALE_MIN_NOTIONAL dollars, or is at least WHALE_RELATIVE_FACTOR x the market's
# rolling median trade notional (median of its last 200 trades, once it has 20).
_whale_relative_factor = number("WHALE_RELATIVE_FACTOR", 20.0)
if _whale_relative_factor <= 1:
    raise ImproperlyConfigured(f"WHALE_RELATIVE_FACTOR={_whale_relative_factor} must be greater than 1.")
# The active runner writes a heartbeat this often; a web process reads a runner whose
# last beat is older than FEED_HEARTBEAT_TTL as down. 1 s beats and a 3 s expiry show a
# dead runner within 4 s (expiry plus one watch interval), inside the 5 s the status bar
# promises, while a beat delayed by one slow database write does not flap it.
_heartbeat_interval = number("FEED_HEARTBEAT_INTERVAL", 1.0)
_heartbeat_ttl = number("FEED_HEARTBEAT_TTL", 3.0)
if _heartbeat_ttl < 2 * _heartbeat_interval:
    raise ImproperlyConfigured("FEED_HEARTBEAT_TTL must be at least twice FEED_HEARTBEAT_INTERVAL")

_book_whale_window = number("FEED_BOOK_WHALE_WINDOW", 600.0)
if _book_whale_window < 0:
    raise ImproperlyConfigured(f"FEED_BOOK_WHALE_WINDOW={_book_whale_window} must not be negative")
_max_books = integer("FEED_MAX_BOOKS", 200)
if _max_books < 1:
    raise ImproperlyConfigured(f"FEED_MAX_BOOKS={_max_books} must be at least 1")
_record_keep_hours = integer("FEED_RECORD_KEEP_HOURS", 168)
if _record_keep_hours < 1:
    raise ImproperlyConfigured("FEED_RECORD_KEEP_HOURS must be at least 1 (the hour being written)")

FEED = FeedConfig(
    # Markets to follow: explicit tickers (comma-separated), else the N most active open ones from REST.
    markets=tuple(env.list("V3_MARKETS", default=[])),
    market_count=integer("FEED_MARKET_COUNT", 10),
    whale_min_notional=money("WHALE_MIN_NOTIONAL", "1000"),
    whale_relative_factor=_whale_relative_factor,
    # A market with no snapshot yet counts as unhealthy only after this start-up grace.
    startup_grace=number("FEED_STARTUP_GRACE", 20.0),
    # Book feed unhealthy when no orderbook message arrived for this long (the
    # simulator and busy Kalshi markets move every second; quiet ones may not).
    book_max_age=number("FEED_BOOK_MAX_AGE", 60.0),
    # Books unhealthy when the newest change applied is this much older than now by the
    # exchange's own timestamp: the runner has fallen behind the feed (a busy machine, a
    # burst), and deciding on seconds-old books is trading blind. Includes clock skew, so
    # keep the host's clock synced (NTP); a few seconds is far above both.
    book_max_lag=number("FEED_BOOK_MAX_LAG", 5.0),
    # Trade feed unhealthy when no trade message arrived for this long (5 min).
    trade_max_age=number("FEED_TRADE_MAX_AGE", 300.0),
    # Coalesced `market` events per market per second (top of book, depth, last trades).
    market_events_per_second=number("FEED_MARKET_EVENTS_PER_SECOND", 4.0),
    status_interval=number("FEED_STATUS_INTERVAL", 10.0),
    heartbeat_interval=_heartbeat_interval,
    heartbeat_ttl=_heartbeat_ttl,
    # A whale's market keeps its order book this long after the whale (10 min): past the
    # decision (EXEC_MAX_WHALE_AGE, 30 s) and a follow order's life (EXEC_ORDER_TTL, 5 min,
    # and a position then keeps it anyway), long enough for a user to look at the market.
    book_whale_window=_book_whale_window,
    # Books one runner keeps at most (its own market set first, then held, watched, whale
    # markets). Each book is a snapshot plus every delta of its market: 200 of Kalshi's
    # markets are a few thousand deltas a second at the busiest, which one core applies
    # with room to spare (bench/README.md). Split more across runners by market set.
    max_books=_max_books,
    # Record every raw exchange frame here (run_feeds --record DIR overrides; empty = off),
    # for simulate_exchange --replay and manage.py backtest.
    record_dir=env.str("FEED_RECORD_DIR", default=""),
    # Hourly recording files kept (a week: enough to backtest a change against last week's
    # whales; ~10x compressed, a busy week of 10 markets is a few GB).
    record_keep_hours=_record_keep_hours,
)
