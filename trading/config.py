"""The typed configuration of each area, one frozen object per area.

``v3site.settings`` reads the environment once, validates it and builds these
(``settings.KALSHI``, ``settings.FEED``, ``settings.EXECUTION``,
``settings.DASHBOARD``, ``settings.RETENTION``); every other module takes one of
them, passed in or read from ``settings.<AREA>``, and never an individual
variable. They live here, not in the settings, because the domain may not import
``v3site``; and in one module of plain dataclasses, because the settings build
them before Django's apps are loaded (architecture.md, "Settings"). The reason
for each default is on its variable in ``v3site/settings/``.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class KalshiConfig:
    """Which Kalshi to talk to, with which key, and whether orders are real."""

    env: str  # sim, demo or prod: picks the hosts (trading.kalshi.hosts)
    api_url: str  # overrides the environment's REST host when set
    ws_url: str  # overrides the environment's WebSocket host when set
    api_key_id: str = field(repr=False)
    private_key_path: str = field(repr=False)
    sim_dir: Path  # where the simulator keeps the key pair KALSHI_ENV=sim uses
    sim_host: str
    sim_port: int
    trading_mode: str  # paper or live
    allow_prod: bool
    # Seconds a simulated market trades before it closes and settles, a new one listed in its
    # place; 0 = markets never close; None (unset) = each command's own default.
    sim_market_lifetime: float | None = None


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """The feed runner's markets, whale rule, health thresholds and periods (seconds)."""

    markets: tuple[str, ...]  # explicit tickers; empty = the market_count most active
    market_count: int
    startup_grace: float
    book_max_age: float
    book_max_lag: float
    trade_max_age: float
    market_events_per_second: float
    status_interval: float
    heartbeat_interval: float
    heartbeat_ttl: float
    whale_min_notional: int
    whale_relative_factor: float
    book_whale_window: float  # a whale's market keeps its book this long
    max_books: int  # books one runner keeps at most, its own market set included
    record_dir: str = ""  # where run_feeds records raw frames; "" = not recording
    record_keep_hours: int = 168


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Every decision rule's knob (trading.execution.rules)."""

    min_whale_notional: int
    max_spread: int
    min_time_to_close: float
    cooldown: float
    size_mode: str
    fixed_count: int
    whale_fraction_ppm: int
    max_count: int
    slippage: int
    max_cross: int
    max_book_age: float
    max_whale_age: float
    order_ttl: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The risk limits in force (trading.execution.risk)."""

    max_position: int
    max_exposure: int
    max_open_orders: int
    max_orders_per_minute: int
    max_daily_loss: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ExecutionConfig:
    """Whale execution: the rules, the limits, paper money and reconciliation (seconds)."""

    rules: RuleConfig
    limits: RiskLimits
    paper_balance: int
    reconcile_interval: float
    pending_grace: float
    decision_ttl: float
    outcome_interval: float


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """The web server and the browsers' WebSocket: pings, bounds and budgets (seconds unless named)."""

    server: str  # uvicorn or daphne: the ASGI server `manage.py serve` runs (dashboard.serving)
    ping_interval: float
    ping_timeout: float
    outbox_limit: int
    command_burst: int
    command_rate: float
    session_check_interval: float
    max_connections_per_user: int


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """How long the browsers' replay log keeps events, and how often it is pruned (seconds)."""

    activity_retention: float
    prune_interval: float


@dataclass(frozen=True, slots=True)
class OperationsConfig:
    """What an operator watches the system with: alerts and the metrics endpoint."""

    alert_webhook_url: str = field(repr=False)  # may carry a token in its path (Slack's do)
    alert_interval: float  # seconds between two alerts of one kind from one process
    alert_timeout: float  # seconds one webhook POST may take
    metrics_token: str = field(repr=False)  # bearer token for /metrics; empty = staff sessions only
