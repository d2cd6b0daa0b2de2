"""What V3 Trader persists: state history, activity (the browsers' replayable
event log), whales, decisions, orders, fills, positions and the risk account.

Units follow trading.units: prices in 1/10,000 dollars, counts in 1/100
contracts, money in micro-dollars, all integers.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class StateTransition(models.Model):
    """One change of the trader's state (docs/architecture.md "States"), with why it happened."""

    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    reason = models.CharField(max_length=200)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.from_state} -> {self.to_state}: {self.reason}"


class ActivityEvent(models.Model):
    """A browser-bound event kept for replay. Its primary key is the envelope id,
    so a reconnecting browser asks for "everything after N" by id."""

    type = models.CharField(max_length=40, db_index=True)
    ts = models.FloatField(help_text="Unix seconds, as on the wire.")
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["type", "-id"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


class WhaleTrade(models.Model):
    """A public trade big enough to consider following. Unique on Kalshi's trade id,
    so a replayed trade is never a second whale."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DECIDED = "decided"
        FAILED = "failed"

    trade_id = models.CharField(max_length=64, unique=True)
    market_ticker = models.CharField(max_length=100, db_index=True)
    taker_side = models.CharField(max_length=3, help_text="Outcome the taker bought: yes or no.")
    yes_price = models.IntegerField(help_text="1/10,000 dollars.")
    count = models.BigIntegerField(help_text="1/100 contracts.")
    notional = models.BigIntegerField(help_text="Micro-dollars at the taker side's price.")
    traded_at = models.FloatField(help_text="Unix seconds, from the exchange.")
    detected_at = models.FloatField(help_text="Unix seconds, when the feed saw it.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED, db_index=True)
    quote = models.JSONField(
        null=True,
        blank=True,
        help_text="The market's YES bid, ask and last price (1/10,000 $) and their exchange time (Unix s) "
        "when the whale was detected, from the ticker channel; null when the feed had none.",
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.market_ticker} {self.taker_side} {self.count / 100:g} @ {self.yes_price / 10000:.4f}"


class WhaleDecision(models.Model):
    """Follow or skip for one whale. One per whale: a retried task cannot decide twice."""

    class Decision(models.TextChoices):
        FOLLOW = "follow"
        SKIP = "skip"

    class Mode(models.TextChoices):
        PAPER = "paper"
        LIVE = "live"

    whale = models.OneToOneField(WhaleTrade, on_delete=models.CASCADE, related_name="decision")
    decision = models.CharField(max_length=6, choices=Decision.choices)
    reason_code = models.CharField(max_length=40, db_index=True)
    reason_text = models.CharField(max_length=300)
    inputs = models.JSONField(default=dict, help_text="Book top, spread, position, exposure, limits in force.")
    mode = models.CharField(max_length=5, choices=Mode.choices)
    started_at = models.FloatField(help_text="Unix seconds, when evaluation began.")
    decided_at = models.FloatField(help_text="Unix seconds.")
    # For the admin's date filter; decided_at (Unix seconds) stays the wire value.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    reviewed = models.BooleanField(default=False, db_index=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        # Every decision reads the recent follows for the cooldown (trading.execution.risk).
        indexes = [models.Index(fields=["decision", "decided_at"], name="decision_recent_idx")]

    def __str__(self) -> str:
        return f"{self.decision} ({self.reason_code}) whale #{self.whale_id}"


class Order(models.Model):
    """An order we sent (or, in paper mode, would have sent). ``client_order_id`` is
    derived from the decision and unique, so a retry can never create a second order."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RESTING = "resting"
        CANCELED = "canceled"
        EXECUTED = "executed"
        REJECTED = "rejected"

    # Still working on the exchange (or about to be): they count against the limits,
    # are canceled by the kill switch and shown as open; the rest are history.
    OPEN_STATUSES = (Status.PENDING, Status.RESTING)

    decision = models.OneToOneField(
        WhaleDecision, null=True, blank=True, on_delete=models.PROTECT, related_name="order"
    )
    client_order_id = models.CharField(max_length=64, unique=True)
    exchange_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    market_ticker = models.CharField(max_length=100, db_index=True)
    side = models.CharField(max_length=3, help_text="bid or ask on the YES book.")
    price = models.IntegerField(help_text="YES price, 1/10,000 dollars.")
    count = models.BigIntegerField(help_text="1/100 contracts.")
    filled_count = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    mode = models.CharField(max_length=5, choices=WhaleDecision.Mode.choices)
    time_in_force = models.CharField(max_length=20, default="good_till_canceled")
    error = models.CharField(max_length=300, blank=True)
    # Indexed: the orders-per-minute limit counts recent orders under the risk lock.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.client_order_id} {self.side} {self.count / 100:g} @ {self.price / 10000:.4f}"


class Fill(models.Model):
    """One execution of one of our orders, unique on the exchange's trade id."""

    trade_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="fills")
    exchange_order_id = models.CharField(max_length=64, db_index=True)
    market_ticker = models.CharField(max_length=100, db_index=True)
    side = models.CharField(max_length=3, help_text="bid or ask on the YES book.")
    yes_price = models.IntegerField(help_text="1/10,000 dollars.")
    count = models.BigIntegerField(help_text="1/100 contracts.")
    fee = models.BigIntegerField(default=0, help_text="Micro-dollars.")
    realized_pnl = models.BigIntegerField(
        default=0, help_text="Micro-dollars this fill realized by closing contracts, before fees."
    )
    is_taker = models.BooleanField(default=True)
    # Indexed: every decision sums the day's realized P&L (fills since 00:00 UTC).
    ts = models.FloatField(help_text="Unix seconds, from the exchange.", db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.trade_id} {self.side} {self.count / 100:g} @ {self.yes_price / 10000:.4f}"


class Position(models.Model):
    """Our net position in one market: + YES, - NO contracts (1/100)."""

    market_ticker = models.CharField(max_length=100, unique=True)
    position = models.BigIntegerField(default=0)
    cost = models.BigIntegerField(default=0, help_text="Micro-dollars paid for the open position.")
    realized_pnl = models.BigIntegerField(default=0, help_text="Micro-dollars.")
    fees_paid = models.BigIntegerField(default=0, help_text="Micro-dollars.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.market_ticker}: {self.position / 100:+g}"


class Settlement(models.Model):
    """A market we held contracts in settled: what the winning contracts paid, what they
    had cost, and the P&L that realized. One per market (a market settles once), so a
    replayed lifecycle message or a reconciliation that finds it again adds nothing."""

    class Result(models.TextChoices):
        YES = "yes"
        NO = "no"

    market_ticker = models.CharField(max_length=100, unique=True)
    event_ticker = models.CharField(max_length=100, blank=True)
    result = models.CharField(max_length=3, choices=Result.choices)
    position = models.BigIntegerField(help_text="1/100 contracts held at settlement: + YES, - NO.")
    cost = models.BigIntegerField(help_text="Micro-dollars the settled contracts had cost.")
    payout = models.BigIntegerField(help_text="Micro-dollars paid out: $1 per winning contract.")
    realized_pnl = models.BigIntegerField(help_text="Micro-dollars: payout - cost, before fees.")
    fees = models.BigIntegerField(default=0, help_text="Micro-dollars of fees paid trading this market.")
    # Indexed: the daily loss limit sums the day's realized P&L, settlements included.
    settled_at = models.FloatField(help_text="Unix seconds, from the exchange.", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-settled_at"]

    def __str__(self) -> str:
        return f"{self.market_ticker} settled {self.result}: {self.realized_pnl / 1_000_000:+.2f} $"


class RiskAccount(models.Model):
    """The one row every risk check locks (SELECT ... FOR UPDATE), so two workers
    cannot both pass the same limit; also the kill switch and pause flag."""

    name = models.CharField(max_length=20, unique=True, default="default")
    paused = models.BooleanField(default=False)
    killed = models.BooleanField(default=False)
    balance = models.BigIntegerField(default=0, help_text="Micro-dollars, last known.")
    version = models.BigIntegerField(default=0, help_text="Bumped on every change of trading state.")
    reconciled_at = models.FloatField(null=True, blank=True, help_text="Unix seconds of the last reconciliation.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [("control_trading", "Can pause, resume and kill trading")]

    def __str__(self) -> str:
        return self.name


class TradeMark(models.Model):
    """The newest public trade a feed runner saw, gap-free, in one market: where the
    next backfill starts after a reconnect, a restart or a standby's takeover. A runner
    of the whole exchange's trade stream would keep one row of its own (a ticker no
    market has, such as "*") and page ``GET /markets/trades`` without a ticker."""

    market_ticker = models.CharField(max_length=100, unique=True)
    trade_id = models.CharField(max_length=64)
    traded_at = models.FloatField(help_text="Unix seconds, from the exchange.")

    def __str__(self) -> str:
        return f"{self.market_ticker} @ {self.traded_at:.3f} ({self.trade_id})"


class FeedHeartbeat(models.Model):
    """The active feed runner of a market set says it is alive, every second: the web
    processes tell a dead runner from a quiet one by the age of ``beat_at``."""

    market_set = models.CharField(max_length=200, unique=True)
    state = models.CharField(max_length=20)
    beat_at = models.FloatField(help_text="Unix seconds of the last beat.", db_index=True)
    pid = models.IntegerField()
    host = models.CharField(max_length=200)

    def __str__(self) -> str:
        return f"{self.market_set}: {self.state} @ {self.beat_at:.1f}"


class MarketWatch(models.Model):
    """A dashboard socket watches a market's panel: the feed runner keeps that market's
    order book while any unexpired watch names it (trading.feed.book_markets). A watch
    expires unless its socket renews it, so a web process that dies without removing
    its sockets' watches does not keep books forever."""

    market_ticker = models.CharField(max_length=100, db_index=True)
    socket_id = models.CharField(max_length=64)
    expires_at = models.FloatField(help_text="Unix seconds.", db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["socket_id", "market_ticker"], name="one_watch_per_socket")]

    def __str__(self) -> str:
        return f"{self.market_ticker} watched by {self.socket_id}"


class WhaleOutcome(models.Model):
    """What one whale led to, followed or skipped (trading.outcomes): its features at
    detection, the YES mid and last trade at +1/+5/+30 min, the settlement, and the
    P&L of following it, fading it (per contract, what-if) and of our follow (actual).
    Filled in over time by ``trading.outcomes.services.fill_outcomes``; a null is "not
    known yet" (or never: a markout the filler could not read in time)."""

    whale = models.OneToOneField(WhaleTrade, on_delete=models.CASCADE, primary_key=True, related_name="outcome")
    market_ticker = models.CharField(max_length=100, db_index=True)
    # Copied from the whale so the report's --since and the filler's "due" scan use one index.
    traded_at = models.FloatField(db_index=True, help_text="Unix seconds, from the exchange.")
    size_percentile = models.IntegerField(null=True, blank=True, help_text="Among the market's recent trades.")
    levels_swept = models.IntegerField(null=True, blank=True, help_text="Cent levels from the previous print.")
    price_impact = models.IntegerField(
        null=True, blank=True, help_text="1/10,000 $ moved from the previous print, in the whale's direction."
    )
    time_to_close = models.FloatField(null=True, blank=True, help_text="Seconds, from the decision's market read.")
    price_band = models.CharField(max_length=12, db_index=True)
    follow_price = models.IntegerField(
        null=True, blank=True, help_text="Own-side price a follow pays (would have paid), 1/10,000 $."
    )
    mid_1m = models.IntegerField(null=True, blank=True, help_text="YES mid, 1/10,000 $.")
    last_1m = models.IntegerField(null=True, blank=True, help_text="YES last trade, 1/10,000 $.")
    mid_5m = models.IntegerField(null=True, blank=True)
    last_5m = models.IntegerField(null=True, blank=True)
    mid_30m = models.IntegerField(null=True, blank=True)
    last_30m = models.IntegerField(null=True, blank=True)
    result = models.CharField(max_length=3, blank=True, db_index=True, help_text="yes or no once settled.")
    settled_at = models.FloatField(null=True, blank=True, help_text="Unix seconds, when we learnt the result.")
    pnl_follow = models.BigIntegerField(null=True, blank=True, help_text="Micro-dollars per contract, what-if.")
    pnl_fade = models.BigIntegerField(null=True, blank=True, help_text="Micro-dollars per contract, what-if.")
    pnl_actual = models.BigIntegerField(null=True, blank=True, help_text="Micro-dollars, our follow's fills.")
    complete = models.BooleanField(default=False, db_index=True, help_text="Every markout and the result known.")

    class Meta:
        ordering = ["-traded_at"]

    def __str__(self) -> str:
        return f"outcome of whale #{self.whale_id}: {self.result or 'unsettled'}"
