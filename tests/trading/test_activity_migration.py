"""Stored activity lines of the feed's old shape are rewritten into the one shape, so a
browser replaying the history after an upgrade shows them like new ones."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = [pytest.mark.django_db(transaction=True)]

BEFORE = [("trading", "0006_feed_marks_and_heartbeat")]
AFTER = [("trading", "0007_activity_one_shape")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_old_feed_lines_take_the_one_shape_and_execution_lines_stay():
    ActivityEvent = _migrate(BEFORE).get_model("trading", "ActivityEvent")
    old_health = ActivityEvent.objects.create(
        type="system_activity",
        ts=1.0,
        data={"kind": "health", "message": "trades unhealthy", "component": "trades", "healthy": False},
    )
    old_state = ActivityEvent.objects.create(
        type="system_activity", ts=2.0, data={"kind": "state", "message": "a → b: why", "from": "a", "to": "b"}
    )
    execution = {"source": "execution", "level": "warning", "message": "Reconciliation: 1 change", "details": {}}
    new = ActivityEvent.objects.create(type="system_activity", ts=3.0, data=execution)
    status = ActivityEvent.objects.create(type="trader_status", ts=4.0, data={"state": "ready"})

    ActivityEvent = _migrate(AFTER).get_model("trading", "ActivityEvent")
    data = dict(ActivityEvent.objects.values_list("id", "data"))
    assert data[old_health.pk] == {
        "source": "health",
        "level": "warning",
        "message": "trades unhealthy",
        "details": {"component": "trades", "healthy": False},
    }
    assert data[old_state.pk] == {
        "source": "state",
        "level": "info",
        "message": "a → b: why",
        "details": {"from": "a", "to": "b"},
    }
    assert data[new.pk] == execution
    assert data[status.pk] == {"state": "ready"}
