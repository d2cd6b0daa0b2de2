"""``manage.py trading pause|resume|kill|status`` and ``manage.py reconcile``."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.trading.execution.conftest import resting_whale
from trading.models import ActivityEvent, Order, RiskAccount

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_pause_resume_and_status(simulator):
    assert "paused" in run("trading", "pause")
    status = json.loads(run("trading", "status"))
    assert status["paused"] is True and status["killed"] is False and status["mode"] == "paper"
    run("trading", "resume")
    assert RiskAccount.objects.get().paused is False
    messages = [e.data["message"] for e in ActivityEvent.objects.filter(type="system_activity")]
    assert messages == ["Trading paused by manage.py.", "Trading resumed by manage.py."]


def test_kill_cancels_open_orders(simulator, settings):
    decision = resting_whale(simulator, settings)
    assert "1 orders canceled" in run("trading", "kill")
    assert Order.objects.get(decision=decision).status == Order.Status.CANCELED
    assert simulator.orders()[0].status == "canceled"
    assert json.loads(run("trading", "status"))["killed"] is True


def test_reconcile_command_reports_what_it_fixed(simulator):
    output = run("reconcile")
    assert '"what": "balance"' in output and "1 differences fixed." in output
    assert run("reconcile").strip() == "0 differences fixed."


def test_beat_reconciles_periodically_and_workers_route_orders_to_their_queue(settings):
    from trading import tasks
    from v3site.celery import app

    schedule = app.conf.beat_schedule["reconcile"]
    assert schedule["task"] == tasks.reconcile.name and schedule["schedule"] == settings.EXECUTION.reconcile_interval
    assert app.conf.task_routes["trading.tasks.place_order"] == {"queue": "orders"}
    assert {q.name for q in app.conf.task_queues} == {"celery", "orders"}
