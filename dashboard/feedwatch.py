"""Tells this process's browsers when the feed runner dies. A dead runner sends no
``trader_status``, so each web process watches the runner's heartbeat
(trading.selectors.runner_down) and, when it expires, hands its own browsers a ``down``
status through its hub: every process tells only its own browsers, so nothing is
sent twice, and nothing is persisted (a reconnecting browser gets the same ``down``
from the history replay while it lasts). When a runner takes over, its own
``trader_status`` replaces it.
"""

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async

from dashboard.hub import GroupHub
from trading import alerts, events
from trading.selectors import runner_down_status

logger = logging.getLogger(__name__)

# How often a web process reads the heartbeat: one indexed query a second, and a
# dead runner shows at most this long after its heartbeat expired.
WATCH_INTERVAL = 1.0

_watches: "weakref.WeakKeyDictionary[GroupHub, asyncio.Task]" = weakref.WeakKeyDictionary()


def ensure_watching(hub: GroupHub) -> None:
    """Start the watch of ``hub``'s process once (the first browser to connect starts it)."""
    task = _watches.get(hub)
    if task is None or task.done():
        _watches[hub] = asyncio.create_task(watch(hub), name="feed-watch")


async def watch(hub: GroupHub, *, interval: float = WATCH_INTERVAL) -> None:
    was_down = False
    while True:
        try:
            down = await database_sync_to_async(runner_down_status)()
        except Exception:  # the database away: nothing to tell, try again
            logger.exception("feed watch: reading the heartbeat failed")
            down = None
        if down is not None and not was_down:
            detail = down["components"][0]["detail"]
            alerts.alert(alerts.FEED_RUNNER_DOWN, f"Feed runner is down: {detail}")
            hub.deliver(events.EVENTS_GROUP, events.group_message(events.envelope(events.TRADER_STATUS, down)))
        was_down = down is not None
        await asyncio.sleep(interval)
