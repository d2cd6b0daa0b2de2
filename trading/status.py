"""What /api/status reports: the health of each component this process can see."""

from typing import Any

from django.db import connection

from trading.health import ComponentHealth, Criticality


def database_health() -> ComponentHealth:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means the database is unusable
        return ComponentHealth("database", False, Criticality.CRITICAL, f"{type(exc).__name__}")
    return ComponentHealth("database", True, Criticality.CRITICAL, connection.vendor)


def system_status() -> dict[str, Any]:
    components = [database_health()]
    return {
        "healthy": all(c.healthy for c in components),
        "components": [c.to_dict() for c in components],
    }
