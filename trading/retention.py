"""How long the browsers' replay log (``ActivityEvent``) is kept.

Every persisted event is a row: a ``trader_status`` of ~5 KB every 10 s alone is
~40 MB a day (a ``whale_queue`` carries only the whale that changed). A
browser resumes "as far as history reaches" and the dashboard shows recent
activity, so rows older than ``ACTIVITY_RETENTION`` are deleted, except the newest
of each type: the replay's latest ``trading_state`` and ``trader_status`` may be
days old when nothing changed. Whales, decisions, orders, fills and state
transitions are the record of what the system did and are never pruned here.
"""

import logging
import time

from django.db.models import Max

from trading.models import ActivityEvent

logger = logging.getLogger(__name__)

# Rows per DELETE, so that pruning a long backlog never holds one huge transaction.
BATCH = 10_000


def prune_activity(*, keep_seconds: float, now: float | None = None) -> int:
    """Delete replay events older than ``keep_seconds`` but the newest of each type; how many."""
    cutoff = (time.time() if now is None else now) - keep_seconds
    newest = ActivityEvent.objects.values("type").annotate(newest=Max("id")).values_list("newest", flat=True)
    old = ActivityEvent.objects.filter(ts__lt=cutoff).exclude(id__in=list(newest)).order_by("id")
    deleted = 0
    while ids := list(old.values_list("id", flat=True)[:BATCH]):
        deleted += ActivityEvent.objects.filter(id__in=ids).delete()[0]
    if deleted:
        logger.info("pruned %d replay events older than %.0f s", deleted, keep_seconds)
    return deleted
