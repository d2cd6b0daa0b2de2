"""What /api/status reports: the health of each component this process can see,
and the feed runner's, which runs in another process in the services shape: it
is read from the runner's latest ``trader_status`` event (persisted every
``FEED_STATUS_INTERVAL`` seconds), so no extra channel between processes is needed."""

import time
from typing import Any

from django.conf import settings
from django.db import connection

from trading import events
from trading.health import ComponentHealth, Criticality
from trading.kalshi.environments import order_host
from trading.models import ActivityEvent

# A status older than this many reporting intervals means the runner is gone or stuck.
STALE_INTERVALS = 3


def database_health() -> ComponentHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the database is unusable
        return ComponentHealth("database", False, Criticality.CRITICAL, f"{type(exc).__name__}")
    return ComponentHealth("database", True, Criticality.CRITICAL, connection.vendor)


def feed_status(now: float | None = None) -> tuple[ComponentHealth, dict[str, Any] | None]:
    """The feed runner as one component, and its last report (state and per-component health)."""
    event = ActivityEvent.objects.filter(type=events.TRADER_STATUS).order_by("-id").first()
    if event is None:
        return ComponentHealth("feed_runner", False, Criticality.CRITICAL, "no feed runner has reported yet"), None
    age = (time.time() if now is None else now) - event.ts
    report = {
        "state": event.data.get("state"),
        "reported_at": event.ts,
        "age_s": round(age, 1),
        "markets": event.data.get("markets", []),
        "components": event.data.get("components", []),
    }
    if age > STALE_INTERVALS * settings.FEED_STATUS_INTERVAL:
        detail, healthy = f"no report for {age:.0f} s", False
    elif report["state"] in ("error", "shutdown"):
        detail, healthy = f"state {report['state']}", False
    else:
        detail, healthy = f"state {report['state']}", True
    return ComponentHealth("feed_runner", healthy, Criticality.CRITICAL, detail), report


def trading_destination() -> dict[str, Any]:
    """What the page shows next to "paper"/"live": the label alone once hid orders
    aimed at production, so the host that receives orders is shown too."""
    return {"mode": settings.TRADING_MODE, "kalshi_env": settings.KALSHI_ENV, "orders_to": order_host()}


def system_status() -> dict[str, Any]:
    feed, report = feed_status()
    components = [database_health(), feed]
    return {
        "healthy": all(c.healthy for c in components),
        "components": [c.to_dict() for c in components],
        "feed": report,
        "trading": trading_destination(),
    }
