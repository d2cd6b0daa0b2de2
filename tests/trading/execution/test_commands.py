"""``manage.py trading pause|resume|kill|status`` and ``manage.py reconcile``."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from tests.trading.execution.conftest import resting_whale
from trading.models import ActivityEvent, Order, Position, RiskAccount

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_pause_resume_and_status(simulator):
    assert "paused" in run("trading", "pause")
    status = json.loads(run("trading", "status", "--json"))
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
    assert json.loads(run("trading", "status", "--json"))["killed"] is True


def test_status_prints_dollars_and_sides():
    RiskAccount.objects.update_or_create(name="default", defaults={"balance": 954_983_700, "paused": True})
    Position.objects.create(market_ticker="KXA-26", position=5_000, cost=2_650_000_000, realized_pnl=-1_500_000)
    Position.objects.create(market_ticker="KXBB-26", position=-250, cost=1_000_000)
    text = run("trading", "status")
    assert "Trading: paused (no new orders), paper mode" in text
    assert "Balance: $954.98" in text and "Exposure: $2,651.00" in text
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "KXA-26 YES 50 cost $2,650.00 realized -$1.50 fees $0.00" in rows
    assert "KXBB-26 NO 2.5 cost $1.00 realized $0.00 fees $0.00" in rows
    assert "954983700" not in text


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
