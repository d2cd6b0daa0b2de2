"""/api/status shows the feed runner's health from its latest trader_status report."""

import time

import pytest

from trading import events
from trading.models import ActivityEvent

pytestmark = pytest.mark.django_db


def _report(state: str, age: float, healthy: bool = True) -> None:
    ActivityEvent.objects.create(
        type=events.TRADER_STATUS,
        ts=time.time() - age,
        data={
            "state": state,
            "markets": ["KXFED-27JAN-T4.25"],
            "components": [{"name": "orderbooks", "healthy": healthy, "criticality": "critical", "detail": ""}],
        },
    )


def _feed(client, user) -> tuple[dict, dict]:
    client.force_login(user)
    body = client.get("/api/status").json()
    return next(c for c in body["components"] if c["name"] == "feed_runner"), body


def test_no_report_means_no_feed_runner(client, user):
    component, body = _feed(client, user)
    assert not component["healthy"] and "no feed runner" in component["detail"]
    assert body["feed"] is None and not body["healthy"]


def test_fresh_report_shows_state_and_component_health(client, user):
    _report("trading", age=2)
    component, body = _feed(client, user)
    assert component["healthy"] and component["detail"] == "state trading"
    assert body["feed"]["state"] == "trading"
    assert body["feed"]["components"][0]["name"] == "orderbooks"


def test_stale_report_or_error_state_is_unhealthy(client, user, settings):
    settings.FEED_STATUS_INTERVAL = 10
    _report("trading", age=31)
    component, _ = _feed(client, user)
    assert not component["healthy"] and "no report for 31 s" in component["detail"]
    _report("error", age=0, healthy=False)
    component, _ = _feed(client, user)
    assert not component["healthy"] and component["detail"] == "state error"
