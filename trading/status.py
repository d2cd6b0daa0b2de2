"""What /api/status reports: the health of each component this process can see,
and the feed runner's, which runs in another process in the services shape: it
is read from the runner's latest ``trader_status`` event (persisted every
``FEED_STATUS_INTERVAL`` seconds), so no extra channel between processes is needed.
Whether the runner is alive at all comes from its heartbeat (trading.feed.heartbeat),
which expires within seconds, not from that report's age. The reads themselves are
selectors (``trading.selectors.feed_status``); this module assembles the answer."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from trading import selectors
from trading.health import ComponentHealth, Criticality
from trading.kalshi.environments import order_host


def database_health() -> ComponentHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the database is unusable
        return ComponentHealth("database", False, Criticality.CRITICAL, f"{type(exc).__name__}")
    return ComponentHealth("database", True, Criticality.CRITICAL, connection.vendor)


def trading_destination() -> dict[str, Any]:
    """What the page shows next to "paper"/"live": the label alone once hid orders
    aimed at production, so the host that receives orders is shown too."""
    return {"mode": settings.KALSHI.trading_mode, "kalshi_env": settings.KALSHI.env, "orders_to": order_host()}


def folder_bytes(path: Path) -> int:
    """Bytes in the files under ``path`` (0 when it is gone); files vanishing meanwhile are skipped."""
    total = 0
    for file in path.rglob("*"):
        try:
            if file.is_file():
                total += file.stat().st_size
        except OSError:
            continue
    return total


def storage() -> dict[str, Any]:
    """How much the system keeps, and for how long: the data folder (the SQLite database
    in the embedded default), Postgres' database when in use, and the replay log."""
    database = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            database = cursor.fetchone()[0]
    return {
        "data_dir_bytes": folder_bytes(settings.DATA_DIR),
        "database_bytes": database,
        "replay_log_events": selectors.replay_log_size(),
        "activity_retention_s": settings.RETENTION.activity_retention,
        "activity_prune_interval_s": settings.RETENTION.prune_interval,
    }


def system_status() -> dict[str, Any]:
    feed, report = selectors.feed_status()
    components = [database_health(), feed]
    return {
        "healthy": all(c.healthy for c in components),
        "components": [c.to_dict() for c in components],
        "feed": report,
        "trading": trading_destination(),
        "storage": storage(),
    }
