"""``GET /metrics``: refused without rights; with them, Prometheus' text format that
prometheus_client's own parser reads, with the trader's numbers in it."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.configs import configure
from tests.trading.execution.conftest import make_whale
from trading import events, publisher
from trading.models import WhaleDecision

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-0123456789"


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "process"))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


@pytest.fixture
def token(settings):
    configure(settings, "OPERATIONS", metrics_token=TOKEN)


def test_metrics_refused_without_rights(client, user, token):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=TOKEN).status_code == 401
    client.force_login(user)  # logged in, not staff
    assert client.get("/metrics").status_code == 401


def test_no_token_configured_means_no_token_works(client, settings):
    configure(settings, "OPERATIONS", metrics_token="")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_metrics_with_the_token_parse_and_count_decisions_and_state(client, token, settings):
    whale = make_whale("KXMETRICS-26")
    WhaleDecision.objects.create(
        whale=whale, decision="skip", reason_code="cooldown", reason_text="Cooldown.", mode="paper",
        started_at=1.0, decided_at=2.0,
    )  # fmt: skip
    publisher.publish(
        events.TRADER_STATUS,
        {
            "state": "trading",
            "feed": {"messages": 1234, "gaps": 2},
            "bus": {"queue_utilization": 0.25, "dropped": 7},
            "components": [
                {"name": "orderbooks", "healthy": True, "metrics": {"snapshots": 10, "deltas": 500, "lag_s": 0.4}},
                {"name": "trades", "healthy": False, "metrics": {"trades": 80}},
            ],
        },
    )

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    found = samples(response.content)
    assert found[("v3_decisions_total", (("decision", "skip"), ("reason", "cooldown")))] == 1
    assert found[("v3_whales", (("status", "queued"),))] == 1
    assert found[("v3_feed_messages_total", ())] == 1234 and found[("v3_feed_gaps_total", ())] == 2
    assert found[("v3_bus_utilization_ratio", ())] == 0.25 and found[("v3_bus_dropped_total", ())] == 7
    assert found[("v3_state", (("state", "trading"),))] == 1 and found[("v3_state", (("state", "error"),))] == 0
    assert found[("v3_book_lag_seconds", ())] == 0.4
    assert found[("v3_feed_channel_messages_total", (("channel", "orderbook_delta"),))] == 500
    assert found[("v3_feed_channel_messages_total", (("channel", "trade"),))] == 80
    assert found[("v3_component_healthy", (("component", "trades"),))] == 0
    assert ("v3_open_sockets", ()) in found
    if settings.REDIS_URL:
        assert found[("v3_celery_queue_length", (("queue", "orders"),))] >= 0


def test_staff_session_may_read_metrics(client, django_user_model):
    staff = django_user_model.objects.create_user(username="ops", password="x" * 16, is_staff=True)
    client.force_login(staff)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert ("v3_fills_total", ()) in samples(response.content)
