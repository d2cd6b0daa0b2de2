"""/api/status shows the feed runner's health from its latest trader_status report, and a
runner whose heartbeat expired as down."""

import time

import pytest

from tests.configs import configure
from trading import events, selectors
from trading.models import ActivityEvent, FeedHeartbeat

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
    configure(settings, "FEED", status_interval=10)
    _report("trading", age=31)
    component, _ = _feed(client, user)
    assert not component["healthy"] and "no report for 31 s" in component["detail"]
    _report("error", age=0, healthy=False)
    component, _ = _feed(client, user)
    assert not component["healthy"] and component["detail"] == "state error"


def _beat(state: str, age: float, market_set: str = "most-active:10") -> None:
    FeedHeartbeat.objects.update_or_create(
        market_set=market_set, defaults={"state": state, "beat_at": time.time() - age, "pid": 4242, "host": "feeds-1"}
    )


def test_an_expired_heartbeat_shows_the_runner_down_though_its_last_report_is_fresh(client, user, settings):
    configure(settings, "FEED", heartbeat_ttl=3)
    _report("trading", age=4)
    _beat("trading", age=2.5)
    component, body = _feed(client, user)
    assert component["healthy"] and body["feed"]["state"] == "trading"
    _beat("trading", age=4)
    component, body = _feed(client, user)
    assert not component["healthy"] and body["feed"]["state"] == "down"
    assert component["detail"] == "down: no heartbeat for 4 s (pid 4242 on feeds-1, last state trading)"


def test_a_runner_that_shut_down_is_not_down_and_the_newest_beat_counts(client, user, settings):
    configure(settings, "FEED", heartbeat_ttl=3)
    _report("shutdown", age=5, healthy=False)
    _beat("shutdown", age=5)
    component, body = _feed(client, user)
    assert body["feed"]["state"] == "shutdown" and component["detail"] == "state shutdown"
    _beat("trading", age=60, market_set="markets:A")
    _report("trading", age=0.5)
    _beat("trading", age=0.5, market_set="markets:B")
    component, _ = _feed(client, user)
    assert component["healthy"], "the runner that beat last is the one shown"


def test_history_replay_carries_a_down_status_while_the_runner_is_dead(settings):
    configure(settings, "FEED", heartbeat_ttl=3)
    _report("trading", age=5)
    _beat("trading", age=5)
    status = selectors.history_replay()["trader_status"]
    assert status["id"] == 0 and status["data"]["state"] == "down"
    assert status["data"]["markets"] == ["KXFED-27JAN-T4.25"]
    assert status["data"]["components"][0]["name"] == "feed_runner"
    _beat("trading", age=0)
    assert selectors.history_replay()["trader_status"]["data"]["state"] == "trading"
