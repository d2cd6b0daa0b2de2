"""Alerts reach the operator's webhook (a local HTTP sink here), off the caller's
thread, rate-limited per kind, and a webhook that fails is logged, never raised."""

import json
import logging
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO

import pytest
from django.core.management import call_command

from tests.configs import configure
from trading import alerts
from trading.feed.state import record_transition

# Seconds a test waits for an alert to arrive: the promise for a kill.
ALERT_WITHIN = 10


class Sink:
    """A webhook on 127.0.0.1 that answers ``status`` and keeps every JSON body it got."""

    def __init__(self, status: int = 200) -> None:
        received: queue.Queue[dict] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/secret-token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def next(self) -> dict:
        return self.received.get(timeout=ALERT_WITHIN)


@pytest.fixture
def sender(monkeypatch) -> alerts.AlertSender:
    """A fresh sender, so no other test's alerts count against the rate limit."""
    fresh = alerts.AlertSender()
    monkeypatch.setattr(alerts, "_sender", fresh)
    return fresh


@pytest.fixture
def sink(settings, sender) -> Iterator[Sink]:
    webhook = Sink()
    configure(settings, "OPERATIONS", alert_webhook_url=webhook.url)
    yield webhook
    webhook.server.shutdown()


@pytest.mark.needs_postgres
@pytest.mark.django_db
def test_kill_sends_an_alert_to_the_webhook(simulator, sink):
    call_command("trading", "kill", stdout=StringIO(), stderr=StringIO())
    body = sink.next()
    assert body["kind"] == "kill_switch"
    assert body["text"].startswith("[V3 Trader] Kill switch turned on by manage.py")


@pytest.mark.django_db
def test_state_error_alerts_after_commit(sink, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        record_transition(from_state="trading", to_state="error", reason="critical unhealthy: books", metadata={})
    body = sink.next()
    assert body["kind"] == "state_error" and "critical unhealthy: books" in body["text"]


def test_one_alert_per_kind_per_interval_and_the_next_counts_the_held_back(settings, sink, sender):
    configure(settings, "OPERATIONS", alert_interval=3600.0)
    assert sender.alert(alerts.ORDER_REJECTED, "first")
    assert not sender.alert(alerts.ORDER_REJECTED, "second")
    assert not sender.alert(alerts.ORDER_REJECTED, "third")
    assert sender.alert(alerts.RECONCILIATION, "another kind goes out")
    assert sink.next()["text"] == "[V3 Trader] first"
    assert sink.next()["kind"] == "reconciliation"
    configure(settings, "OPERATIONS", alert_interval=0.0)
    assert sender.alert(alerts.ORDER_REJECTED, "fourth")
    assert sink.next()["text"] == "[V3 Trader] fourth (2 more order_rejected alerts held back since the last one)"


def test_failing_webhook_is_logged_and_never_raised(settings, sender, caplog):
    failing = Sink(status=500)
    configure(settings, "OPERATIONS", alert_webhook_url=failing.url)
    with caplog.at_level(logging.ERROR, logger="trading.alerts"):
        assert sender.alert(alerts.STATE_ERROR, "trader in error")
        assert failing.next()["kind"] == "state_error"
        assert sender.flush(ALERT_WITHIN)
    assert sender.failed == 1 and sender.sent == 0
    assert "alert state_error not delivered: the webhook answered 500" in caplog.text
    assert "secret-token" not in caplog.text
    failing.server.shutdown()


def test_unreachable_webhook_is_logged_without_its_url(settings, sender, caplog):
    closed = Sink()
    closed.server.shutdown()
    closed.server.server_close()
    configure(settings, "OPERATIONS", alert_webhook_url=closed.url)
    with caplog.at_level(logging.ERROR, logger="trading.alerts"):
        sender.alert(alerts.FEED_FAILOVER, "standby took over")
        assert sender.flush(ALERT_WITHIN)
    assert sender.failed == 1
    assert "alert feed_failover not delivered: ConnectError" in caplog.text and "secret-token" not in caplog.text


def test_unknown_kind_is_a_programming_error(sender):
    with pytest.raises(ValueError, match="unknown alert kind"):
        sender.alert("typo", "text")
