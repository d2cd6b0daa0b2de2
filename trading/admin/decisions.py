"""The whale decision review: list, filters, the decision page, "mark reviewed", CSV export."""

import csv
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import DataError, transaction
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, QueryDict, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html, format_html_join

from trading.admin.display import contracts, input_value, money, price, spreadsheet_safe, unix
from trading.execution.services import review_decisions
from trading.models import (
    Settlement,
    WhaleDecision,
    WhaleOutcome,
    WhaleTrade,
)
from trading.outcomes.arithmetic import markout
from trading.units import COUNT_SCALE, MONEY_SCALE, human_money

logger = logging.getLogger(__name__)


class MarketFilter(admin.SimpleListFilter):
    title = "market"
    parameter_name = "market"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Iterable[tuple[str, str]]:
        tickers = WhaleTrade.objects.filter(decision__isnull=False).values_list("market_ticker", flat=True)
        return [(t, t) for t in sorted(set(tickers))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(whale__market_ticker=self.value()) if self.value() else queryset


class SettledFilter(admin.SimpleListFilter):
    title = "settled"
    parameter_name = "settled"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> Iterable[tuple[str, str]]:
        return [("yes", "YES won"), ("no", "NO won"), ("unknown", "not yet")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(whale__outcome__result=self.value())
        if self.value() == "unknown":
            return queryset.exclude(whale__outcome__result__in=["yes", "no"])
        return queryset


def _outcome(decision: WhaleDecision) -> WhaleOutcome | None:
    try:
        return decision.whale.outcome
    except WhaleOutcome.DoesNotExist:
        return None


CSV_COLUMNS = [
    "id",
    "decided_at",
    "market",
    "whale_side",
    "whale_notional",
    "decision",
    "reason_code",
    "reason_text",
    "mode",
    "order_status",
    "client_order_id",
    "order_error",
    "filled",
    "realized_pnl",
    "reviewed",
    "reviewed_by",
    "reviewed_at",
    "review_note",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _check_regex_filters(params: QueryDict) -> None:
    """A regex filter must compile: SQLite runs Python's ``re`` inside the query, and its
    error there is an OperationalError, indistinguishable from a locked database."""
    for key, value in params.items():
        if key.endswith(("__regex", "__iregex")):
            try:
                re.compile(value)
            except re.error as exc:
                raise IncorrectLookupParameters(f"{key}: {exc}") from None


@admin.register(WhaleDecision)
class WhaleDecisionAdmin(admin.ModelAdmin):
    list_display = [
        "when",
        "market",
        "whale_size",
        "decision",
        "reason_code",
        "order_status",
        "realized",
        "markout_5m",
        "settled",
        "follow_pnl",
        "reviewed",
    ]
    list_filter = [
        "decision",
        "reason_code",
        MarketFilter,
        SettledFilter,
        "whale__outcome__price_band",
        "mode",
        "created_at",
        "reviewed",
    ]
    list_display_links = ["when"]
    search_fields = ["whale__market_ticker"]
    date_hierarchy = "created_at"
    list_select_related = ["whale", "whale__outcome", "order", "reviewed_by"]
    actions = ["mark_reviewed", "export_selected_csv"]
    fields = [
        "whale_details",
        "decision",
        "reason_code",
        "reason_text",
        "mode",
        "started",
        "decided",
        "inputs_table",
        "order_details",
        "fills_table",
        "settlement_details",
        "reviewed",
        "reviewed_by",
        "reviewed_at",
        "review_note",
    ]
    readonly_fields = [f for f in fields if f != "review_note"]
    change_list_template = "admin/trading/whaledecision/change_list.html"

    class Media:
        css = {"all": ["admin/trading/decisions.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .select_related("whale", "whale__outcome", "order", "reviewed_by")
            .annotate(realized_pnl=Sum("order__fills__realized_pnl"))
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: WhaleDecision, form: Any, change: bool) -> None:
        """Only the note is editable on the page; saving it records the review."""
        review_decisions(decision_ids=[obj.pk], user=request.user, note=obj.review_note)

    # Columns.

    @admin.display(description="UTC", ordering="created_at")
    def when(self, obj: WhaleDecision) -> str:
        return datetime.fromtimestamp(obj.decided_at, UTC).strftime("%m-%d %H:%M")

    @admin.display(description="market", ordering="whale__market_ticker")
    def market(self, obj: WhaleDecision) -> str:
        return obj.whale.market_ticker

    @admin.display(description="whale", ordering="whale__notional")
    def whale_size(self, obj: WhaleDecision) -> str:
        return f"{human_money(obj.whale.notional)} {obj.whale.taker_side.upper()}"

    @admin.display(description="order", ordering="order__status")
    def order_status(self, obj: WhaleDecision) -> str:
        order = getattr(obj, "order", None)
        return order.status if order is not None else "-"

    @admin.display(description="P&L", ordering="realized_pnl")
    def realized(self, obj: WhaleDecision) -> str:
        """Our follow's P&L: fills, fees and settlement once the outcome knows them, else the
        fills' realized P&L so far (one column, so the list fits a laptop screen)."""
        outcome = _outcome(obj)
        if outcome is not None and outcome.pnl_actual is not None:
            return money(outcome.pnl_actual)
        return money(getattr(obj, "realized_pnl", None))

    @admin.display(description="5m markout")
    def markout_5m(self, obj: WhaleDecision) -> str:
        """The YES mid's move in the whale's direction 5 minutes after it traded."""
        outcome = _outcome(obj)
        if outcome is None or outcome.mid_5m is None:
            return "-"
        return price(markout(obj.whale.taker_side, obj.whale.yes_price, outcome.mid_5m))

    @admin.display(description="settled", ordering="whale__outcome__result")
    def settled(self, obj: WhaleDecision) -> str:
        outcome = _outcome(obj)
        return outcome.result.upper() if outcome is not None and outcome.result else "-"

    @admin.display(description="follow /ct", ordering="whale__outcome__pnl_follow")
    def follow_pnl(self, obj: WhaleDecision) -> str:
        outcome = _outcome(obj)
        return money(outcome.pnl_follow if outcome is not None else None)

    @admin.display(description="started")
    def started(self, obj: WhaleDecision) -> str:
        return unix(obj.started_at)

    @admin.display(description="decided")
    def decided(self, obj: WhaleDecision) -> str:
        return unix(obj.decided_at)

    # The decision page.

    @admin.display(description="whale")
    def whale_details(self, obj: WhaleDecision) -> str:
        w = obj.whale
        return format_html(
            "#{} {} — taker bought {} {} @ YES {} — notional {} — trade {} — traded {} — detected {}",
            w.pk,
            w.market_ticker,
            contracts(w.count),
            w.taker_side.upper(),
            price(w.yes_price),
            money(w.notional),
            w.trade_id,
            unix(w.traded_at),
            unix(w.detected_at),
        )

    @admin.display(description="order")
    def order_details(self, obj: WhaleDecision) -> str:
        order = getattr(obj, "order", None)
        if order is None:
            return "-"
        return format_html(
            "{} — {} {} @ YES {} — filled {} — {} — exchange id {} {}",
            order.client_order_id,
            order.side,
            contracts(order.count),
            price(order.price),
            contracts(order.filled_count),
            order.status,
            order.exchange_order_id or "-",
            f"— {order.error}" if order.error else "",
        )

    @admin.display(description="settlement")
    def settlement_details(self, obj: WhaleDecision) -> str:
        """How the market this decision was about settled, and what our position there made."""
        settlement = Settlement.objects.filter(market_ticker=obj.whale.market_ticker).first()
        if settlement is None:
            return "not settled yet"
        return format_html(
            "settled {} at {} — position {} — paid {} for a cost of {} — realized {} (fees {})",
            settlement.result.upper(),
            unix(settlement.settled_at),
            contracts(settlement.position),
            money(settlement.payout),
            money(settlement.cost),
            money(settlement.realized_pnl),
            money(settlement.fees),
        )

    @admin.display(description="inputs")
    def inputs_table(self, obj: WhaleDecision) -> str:
        """What the decision was based on, one row per fact (the raw JSON is in the CSV and the API)."""
        rows = [
            (section, name, input_value(name, value))
            for section, facts in obj.inputs.items()
            for name, value in (facts.items() if isinstance(facts, dict) else [("", facts)])
        ]
        if not rows:
            return "-"
        return format_html(
            '<table class="decision-inputs"><tr><th>of</th><th>input</th><th>value</th></tr>{}</table>',
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="fills")
    def fills_table(self, obj: WhaleDecision) -> str:
        order = getattr(obj, "order", None)
        fills = list(order.fills.order_by("ts")) if order is not None else []
        if not fills:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f.trade_id,
                    f.side,
                    contracts(f.count),
                    price(f.yes_price),
                    money(f.fee),
                    money(f.realized_pnl),
                    unix(f.ts),
                )
                for f in fills
            ),
        )
        return format_html(
            "<table><tr><th>trade</th><th>side</th><th>count</th><th>YES price</th><th>fee</th>"
            "<th>realized</th><th>time</th></tr>{}</table>",
            rows,
        )

    # Review and export.

    @admin.action(description="Mark reviewed (with a note)", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        if "apply" in request.POST:
            note = request.POST.get("note", "").strip()
            count = review_decisions(
                decision_ids=list(queryset.values_list("pk", flat=True)), user=request.user, note=note
            )
            self.message_user(request, f"{count} decisions marked reviewed.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Mark decisions reviewed",
            "opts": self.model._meta,
            "decisions": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/trading/whaledecision/review.html", context)

    @admin.action(description="Export selected as CSV")
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet) -> StreamingHttpResponse:
        return self.csv_response(queryset)

    def get_urls(self) -> list[URLPattern]:
        export = path("export/", self.admin_site.admin_view(self.export_view), name="trading_whaledecision_export")
        return [export, *super().get_urls()]

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """The changelist's current filters and search, as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            _check_regex_filters(request.GET)
            # A savepoint: a filter the database refuses (Postgres' regex dialect) must not poison the transaction.
            with transaction.atomic():
                changelist = self.get_changelist_instance(request)
        except (IncorrectLookupParameters, DataError) as exc:
            logger.warning("CSV export refused: bad filter %s: %s", request.GET.urlencode()[:200], exc)
            return HttpResponseBadRequest(f"Bad filter in the export URL: {exc}", content_type="text/plain")
        return self.csv_response(changelist.get_queryset(request))

    def csv_response(self, queryset: QuerySet) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())

        def lines() -> Iterable[str]:
            yield writer.writerow(CSV_COLUMNS)
            for decision in queryset.order_by("pk").iterator(chunk_size=500):
                yield writer.writerow(self.csv_row(decision))

        response = StreamingHttpResponse(lines(), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="whale-decisions.csv"'
        return response

    def csv_row(self, d: WhaleDecision) -> list[Any]:
        """Numbers and times formatted here; every text cell made spreadsheet-safe."""
        order = getattr(d, "order", None)
        text = spreadsheet_safe
        return [
            d.pk,
            datetime.fromtimestamp(d.decided_at, UTC).isoformat(),
            text(d.whale.market_ticker),
            text(d.whale.taker_side),
            f"{d.whale.notional / MONEY_SCALE:.2f}",
            text(d.decision),
            text(d.reason_code),
            text(d.reason_text),
            text(d.mode),
            text(order.status) if order else "",
            text(order.client_order_id) if order else "",
            text(order.error) if order else "",
            f"{order.filled_count / COUNT_SCALE:g}" if order else "",
            f"{(getattr(d, 'realized_pnl', None) or 0) / MONEY_SCALE:.2f}",
            d.reviewed,
            text(d.reviewed_by.get_username()) if d.reviewed_by else "",
            d.reviewed_at.isoformat() if d.reviewed_at else "",
            text(d.review_note),
        ]
