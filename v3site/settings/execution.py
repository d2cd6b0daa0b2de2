"""Whale execution (trading.execution): decision rules, risk limits,
reconciliation (``EXECUTION``, a trading.config.ExecutionConfig). Dollar and
contract amounts are decimal strings (as on Kalshi's wire) parsed into
trading.units integers; a bad value stops start-up naming the variable."""

from trading.config import ExecutionConfig, RiskLimits, RuleConfig
from v3site.settings.environment import choice, count, integer, money, number, price

_rules = RuleConfig(
    # Whales under this notional (dollars, at the taker's price) are not worth a
    # follow: below_threshold. The feed's whale threshold may be lower (it shows more).
    min_whale_notional=money("EXEC_MIN_WHALE_NOTIONAL", "1000"),
    # Widest YES spread (dollars) we trade into: a wide book means the whale moved it
    # and our fill would be far from fair value: spread_too_wide.
    max_spread=price("EXEC_MAX_SPREAD", "0.05"),
    # Markets closing sooner than this (seconds) are skipped: market_closing. Close
    # to expiry, prices jump on news and resting orders may be left at the close.
    min_time_to_close=integer("EXEC_MIN_TIME_TO_CLOSE", 900),
    # At most one follow per market per this many seconds: cooldown (whales come in
    # bursts; following each one would stack the same bet).
    cooldown=integer("EXEC_COOLDOWN", 60),
    # Size: "fixed" = EXEC_FIXED_COUNT contracts; "fraction" = EXEC_WHALE_FRACTION_PPM
    # of the whale's count; either way capped at EXEC_MAX_COUNT contracts.
    size_mode=choice("EXEC_SIZE_MODE", "fixed", ("fixed", "fraction")),
    fixed_count=count("EXEC_FIXED_COUNT", "10"),
    # Parts per million of the whale (10000 = 1%), an integer so sizing stays exact.
    whale_fraction_ppm=integer("EXEC_WHALE_FRACTION_PPM", 10_000),
    max_count=count("EXEC_MAX_COUNT", "100"),
    # Limit price = the whale's price (on the side it bought) + this slippage, but
    # never more than EXEC_MAX_CROSS beyond the current best ask of that side, so a
    # stale whale price never makes us sweep the book.
    slippage=price("EXEC_SLIPPAGE", "0.01"),
    max_cross=price("EXEC_MAX_CROSS", "0.02"),
    # A book older than this (seconds) is stale: stale_book. The worker reads the
    # book from REST (it has no WebSocket); the age counts from when the request was
    # sent (see trading.execution.gateway for the edge-cache caveat on demo/prod).
    max_book_age=number("EXEC_MAX_BOOK_AGE", 3.0),
    # A whale that traded longer ago than this (seconds) is no longer a signal:
    # whale_too_old (a backlog after an outage is decided, not followed blindly).
    max_whale_age=number("EXEC_MAX_WHALE_AGE", 30.0),
    # Follow orders rest this long (seconds) and then expire on the exchange;
    # 0 = immediate_or_cancel (take what is there now, never rest).
    order_ttl=integer("EXEC_ORDER_TTL", 300),
)

# Risk limits, checked in one transaction holding the RiskAccount row lock.
_limits = RiskLimits(
    # Contracts per market (open position plus resting orders, either side): position_limit.
    max_position=count("EXEC_MAX_POSITION", "500"),
    # Dollars at risk across all markets (cost of positions plus resting orders): exposure_limit.
    max_exposure=money("EXEC_MAX_EXPOSURE", "2500"),
    # Resting or unacknowledged orders at once: open_orders_limit.
    max_open_orders=integer("EXEC_MAX_OPEN_ORDERS", 10),
    # New orders in any 60 s: rate_limit. Far under Kalshi's Basic write budget
    # (10 creates/s), so a runaway loop is stopped by us, not by 429s.
    max_orders_per_minute=integer("EXEC_MAX_ORDERS_PER_MINUTE", 6),
    # Realized loss net of fees since 00:00 UTC (dollars) that stops new orders: daily_loss_limit.
    max_daily_loss=money("EXEC_MAX_DAILY_LOSS", "250"),
)

EXECUTION = ExecutionConfig(
    rules=_rules,
    limits=_limits,
    # Starting balance (dollars) of paper trading against the live book copy
    # (TRADING_MODE=paper on demo/prod), where no exchange account holds our money.
    paper_balance=money("EXEC_PAPER_BALANCE", "10000"),
    # Reconciliation with the exchange: every this many seconds (Celery beat), and at
    # worker start-up. A local order still unacknowledged after EXEC_PENDING_GRACE
    # seconds is looked up on the exchange: adopted if there, else sent again while its
    # decision is fresh (EXEC_DECISION_TTL below).
    reconcile_interval=number("EXEC_RECONCILE_INTERVAL", 60.0),
    pending_grace=number("EXEC_PENDING_GRACE", 30.0),
    # A follow order not yet on the exchange this long (seconds) after its decision is
    # no longer sent (its limit was set against that moment's book) and is rejected as
    # decision_expired. 90 s: a placement cut short by a killed worker runs again within
    # 55 s (CELERY_BROKER_TRANSPORT_OPTIONS, v3site.settings.services) and may then retry
    # for 30 s more (trading.tasks.place_order's backoff); it must still be fresh then.
    decision_ttl=number("EXEC_DECISION_TTL", 90.0),
    # Whale outcomes (markouts at +1/+5/+30 min, results, P&L) are filled in every this
    # many seconds: well inside the 30 s a markout may be late (trading.outcomes.services),
    # and one REST read per market with whales in flight, far under Kalshi's read budget.
    outcome_interval=number("OUTCOME_FILL_INTERVAL", 5.0),
)
