"""The active feed runner's heartbeat: a ``FeedHeartbeat`` row per market set, written
every ``FEED_HEARTBEAT_INTERVAL`` seconds. The ``trader_status`` report comes only
every ``FEED_STATUS_INTERVAL`` (10 s) and says nothing once its sender is dead; the
web processes read this row (one indexed query) and show a runner whose beat is older
than ``FEED_HEARTBEAT_TTL`` as down (trading.status). A database row rather than a
Redis key, so the embedded default (SQLite, no Redis) has the same heartbeat.
"""

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from asgiref.sync import sync_to_async

from trading.feed.threads import fresh_connection
from trading.models import FeedHeartbeat

logger = logging.getLogger(__name__)


def beat(*, market_set: str, state: str, now: float) -> None:
    """Record that this process runs ``market_set`` in ``state`` at ``now``."""
    values = {"state": state, "beat_at": now, "pid": os.getpid(), "host": socket.gethostname()}
    if not FeedHeartbeat.objects.filter(market_set=market_set).update(**values):
        FeedHeartbeat.objects.update_or_create(market_set=market_set, defaults=values)


_beat = fresh_connection(beat)


class Heartbeat:
    def __init__(self, market_set: str, state: Callable[[], str], *, interval: float) -> None:
        self.market_set = market_set
        self.state = state
        self.interval = interval
        self.beats = 0
        self.failures = 0

    async def send(self) -> None:
        """One beat, off the event loop; a failed one is logged and the next one tries again."""
        try:
            await sync_to_async(_beat)(market_set=self.market_set, state=self.state(), now=time.time())
            self.beats += 1
        except Exception:  # the database being briefly away must not stop the runner
            self.failures += 1
            logger.exception("feed heartbeat failed (%d so far)", self.failures)

    async def run(self) -> None:
        while True:
            await self.send()
            await asyncio.sleep(self.interval)
