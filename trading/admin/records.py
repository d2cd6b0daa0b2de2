"""Read-only admin pages for the audit trail: whales and their outcomes, orders, fills,
positions, settlements, the risk account, state transitions and activity."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trading.admin.display import contracts, money, price, unix
from trading.models import (
    ActivityEvent,
    Fill,
    Order,
    Position,
    RiskAccount,
    Settlement,
    StateTransition,
    WhaleOutcome,
    WhaleTrade,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit records: viewable by staff with view permission, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WhaleOutcome)
class WhaleOutcomeAdmin(ReadOnlyAdmin):
    list_display = [
        "whale_id",
        "market_ticker",
        "price_band",
        "size_percentile",
        "levels_swept",
        "mid_1m",
        "mid_5m",
        "mid_30m",
        "result",
        "pnl_follow",
        "pnl_fade",
        "pnl_actual",
        "complete",
    ]
    list_filter = ["result", "price_band", "complete"]
    search_fields = ["market_ticker"]


@admin.register(WhaleTrade)
class WhaleTradeAdmin(ReadOnlyAdmin):
    list_display = ["id", "market_ticker", "taker_side", "count_", "yes_price_", "notional_", "status", "detected"]
    list_filter = ["status", "taker_side"]
    search_fields = ["market_ticker", "trade_id"]

    @admin.display(description="count", ordering="count")
    def count_(self, obj: WhaleTrade) -> str:
        return contracts(obj.count)

    @admin.display(description="YES price", ordering="yes_price")
    def yes_price_(self, obj: WhaleTrade) -> str:
        return price(obj.yes_price)

    @admin.display(description="notional", ordering="notional")
    def notional_(self, obj: WhaleTrade) -> str:
        return money(obj.notional)

    @admin.display(description="detected", ordering="detected_at")
    def detected(self, obj: WhaleTrade) -> str:
        return unix(obj.detected_at)


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    fields = ["trade_id", "side", "yes_price", "count", "fee", "realized_pnl", "is_taker", "ts"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "client_order_id",
        "market_ticker",
        "side",
        "price",
        "count",
        "filled_count",
        "status",
        "mode",
        "created_at",
    ]
    list_filter = ["status", "mode", "side"]
    search_fields = ["market_ticker", "client_order_id", "exchange_order_id"]
    inlines = [FillInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = ["id", "trade_id", "market_ticker", "side", "yes_price", "count", "fee", "realized_pnl", "ts"]
    list_filter = ["side", "is_taker"]
    search_fields = ["market_ticker", "trade_id", "exchange_order_id"]


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = ["market_ticker", "position", "cost", "realized_pnl", "fees_paid", "updated_at"]
    search_fields = ["market_ticker"]


@admin.register(Settlement)
class SettlementAdmin(ReadOnlyAdmin):
    list_display = ["market_ticker", "result", "position", "cost", "payout", "realized_pnl", "fees", "settled_at"]
    list_filter = ["result"]
    search_fields = ["market_ticker", "event_ticker"]


@admin.register(RiskAccount)
class RiskAccountAdmin(ReadOnlyAdmin):
    """Switch trading with ``manage.py trading`` or the dashboard, which record who did it."""

    list_display = ["name", "paused", "killed", "balance", "version", "reconciled_at", "updated_at"]


@admin.register(StateTransition)
class StateTransitionAdmin(ReadOnlyAdmin):
    list_display = ["id", "from_state", "to_state", "reason", "created_at"]
    list_filter = ["to_state", "from_state", "created_at"]
    search_fields = ["reason"]


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "when", "summary"]
    list_filter = ["type"]

    @admin.display(description="time", ordering="ts")
    def when(self, obj: ActivityEvent) -> str:
        return unix(obj.ts)

    @admin.display(description="data")
    def summary(self, obj: ActivityEvent) -> str:
        data = obj.data or {}
        return str(data.get("message") or data.get("stage") or data)[:200]
