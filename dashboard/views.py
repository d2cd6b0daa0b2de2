"""Pages and JSON endpoints: thin adapters over trading's selectors."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from dashboard import metrics
from dashboard.health import stats
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
