"""The replay log's retention: old events go, the newest of each type and recent ones stay."""

import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.configs import configure
from trading import events, retention, selectors, tasks
from trading.models import ActivityEvent

pytestmark = pytest.mark.django_db

DAY = 86_400.0


def event(event_type: str, age: float, now: float) -> int:
    return ActivityEvent.objects.create(type=event_type, ts=now - age, data={"age": age}).pk


def test_prune_keeps_recent_events_and_the_newest_of_each_type(monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 3)  # several batches
    now = time.time()
    for n in range(7):
        event(events.SYSTEM_ACTIVITY, 10 * DAY - n, now)
    state = event(events.TRADING_STATE, 9 * DAY, now)  # nothing changed since: still the latest
    recent = [event(events.SYSTEM_ACTIVITY, 60, now), event(events.TRADER_STATUS, 30, now)]

    assert retention.prune_activity(keep_seconds=7 * DAY, now=now) == 7
    assert set(ActivityEvent.objects.values_list("id", flat=True)) == {state, *recent}
    assert retention.prune_activity(keep_seconds=7 * DAY, now=now) == 0


def test_replay_after_pruning_still_has_the_latest_trading_state():
    now = time.time()
    state = event(events.TRADING_STATE, 30 * DAY, now)
    event(events.SYSTEM_ACTIVITY, 30 * DAY, now)
    last_activity = event(events.SYSTEM_ACTIVITY, 29 * DAY, now)
    assert retention.prune_activity(keep_seconds=DAY, now=now) == 1

    replay = selectors.history_replay(last_event_id_seen=0)
    assert replay["trading_state"]["id"] == state
    # Resuming from before what was pruned is a fresh replay, marked as a gap.
    assert (replay["resumed"], replay["gap"]) == (False, True)
    assert [e["id"] for e in replay["events"]] == [last_activity]


def test_command_and_task_prune_with_the_configured_retention(settings):
    now = time.time()
    configure(settings, "RETENTION", activity_retention=DAY)
    event(events.SYSTEM_ACTIVITY, 3 * DAY, now)
    event(events.SYSTEM_ACTIVITY, 2 * DAY, now)
    kept = event(events.SYSTEM_ACTIVITY, 60, now)

    out = StringIO()
    call_command("prune_activity", "--keep", str(2.5 * DAY), stdout=out)
    assert out.getvalue().strip() == "1 replay events deleted."
    assert tasks.prune_activity() == 1
    assert list(ActivityEvent.objects.values_list("id", flat=True)) == [kept]
    with pytest.raises(CommandError, match="--keep"):
        call_command("prune_activity", "--keep", "-1")


def test_beat_prunes_the_replay_log_periodically(settings):
    from v3site.celery import app

    schedule = app.conf.beat_schedule["prune-activity"]
    assert schedule == {"task": tasks.prune_activity.name, "schedule": settings.RETENTION.prune_interval}
