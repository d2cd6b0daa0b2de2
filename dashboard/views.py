"""Pages and JSON endpoints: thin adapters over trading's selectors."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from dashboard import metrics
from dashboard.charts import cumulative_chart
from dashboard.health import stats
from trading.outcomes import report
from trading.outcomes.selectors import outcome_rows
from trading.status import system_status, trading_destination


@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask every page's ``/favicon.ico`` (the admin's too, which links none)."""
    return HttpResponseRedirect(static("dashboard/favicon.svg"))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers: says the process answers, and nothing else."""
    return JsonResponse({"status": "ok"})


@require_GET
def api_status(request: HttpRequest) -> JsonResponse:
    """Component health for logged-in users; anonymous callers get 401, not a login page."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "authentication required"}, status=401)
    status = system_status()
    status["components"].append(stats.health().to_dict())
    return JsonResponse(status)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus' scrape: a staff session or the METRICS_TOKEN bearer token; 401 otherwise."""
    if not metrics.allowed(request):
        return HttpResponse(
            "staff session or METRICS_TOKEN bearer token required\n", status=401, content_type="text/plain"
        )
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/index.html", {"trading": trading_destination()})


# The strategy chart's lines: the report's curve keys, their labels and CSS classes.
STRATEGY_SERIES = (
    ("actual", "actual (our follows)", "line-actual"),
    ("follow_all", "follow every whale", "line-follow-all"),
    ("rule", "the rule's follows", "line-rule"),
)

STRATEGY_SECTIONS = (("by_reason", "By reason"), ("by_price_band", "By price band"), ("by_size", "By size"))


@login_required
@require_GET
def strategy(request: HttpRequest) -> HttpResponse:
    """The strategy report with its cumulative P&L curve (README, "Judging the strategy")."""
    rows = outcome_rows()
    data = report.build(rows)
    sections = [(key, title, data[key]) for key, title in STRATEGY_SECTIONS]
    chart = cumulative_chart(report.curve(rows), STRATEGY_SERIES)
    return render(request, "dashboard/strategy.html", {"report": data, "chart": chart, "sections": sections})
