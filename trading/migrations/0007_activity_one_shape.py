"""Stored ``system_activity`` lines in the one payload shape (``trading.events.activity``).

The feed used to write ``{"kind", "message", ...facts}``; those rows are rewritten as
``{"source", "level", "message", "details"}`` so that a browser replaying history
shows them like new ones. Rows already in that shape (the execution side's) are
left as they are. Nothing to undo: the new shape carries everything the old one did.
"""

from django.db import migrations

# Rows rewritten per query: bounded memory on a week of history (ACTIVITY_RETENTION).
BATCH = 1_000


def _one_shape(data: dict) -> dict:
    facts = {k: v for k, v in data.items() if k not in ("kind", "message")}
    warning = facts.get("healthy") is False or bool(facts.get("cut_off"))
    return {
        "source": data.get("kind") or "system",
        "level": "warning" if warning else "info",
        "message": data.get("message", ""),
        "details": facts,
    }


def forwards(apps, schema_editor):
    ActivityEvent = apps.get_model("trading", "ActivityEvent")
    rows = ActivityEvent.objects.filter(type="system_activity").exclude(data__has_key="source").order_by("id")
    batch = []
    for row in rows.iterator(chunk_size=BATCH):
        row.data = _one_shape(row.data)
        batch.append(row)
        if len(batch) >= BATCH:
            ActivityEvent.objects.bulk_update(batch, ["data"])
            batch = []
    if batch:
        ActivityEvent.objects.bulk_update(batch, ["data"])


class Migration(migrations.Migration):
    dependencies = [("trading", "0006_feed_marks_and_heartbeat")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
