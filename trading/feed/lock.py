"""One active feed runner per market set: a Postgres session advisory lock.

The lock lives on a connection of its own (not Django's, which may be closed
and reopened between queries), so it is held exactly as long as the runner's
process lives: when it dies, Postgres ends the session and frees the lock, and
a standby that polls ``pg_try_advisory_lock`` takes over. SQLite (the embedded
default, one process) needs no lock.
"""

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence

import psycopg
from django.conf import settings

from trading import alerts
from trading.health import ComponentHealth, Criticality

logger = logging.getLogger(__name__)

# A standby asks this often; takeover happens within one interval of the
# active runner's death (Postgres frees the lock as soon as the session ends).
# Half a second leaves the other half of the 2 s takeover promise for connecting,
# subscribing and the first snapshots; a try_lock twice a second costs nothing.
POLL_INTERVAL = 0.5


def lock_key(market_set: str) -> int:
    """A stable signed 64-bit key for the market set (advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"v3-feed:{market_set}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def market_set_name(explicit: Sequence[str], count: int) -> str:
    """What the runner was asked to follow, so two runners asked the same thing share a lock."""
    return "markets:" + ",".join(sorted(explicit)) if explicit else f"most-active:{count}"


def _conninfo() -> str:
    db = settings.DATABASES["default"]
    parts = {
        "dbname": db.get("NAME"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST"),
        "port": db.get("PORT"),
    }
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v})


def needs_lock() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


class AdvisoryLock:
    def __init__(self, market_set: str, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.market_set = market_set
        self.key = lock_key(market_set)
        self.poll_interval = poll_interval
        self._conn: psycopg.AsyncConnection | None = None
        self.held = False
        self.lost = False

    async def acquire(self) -> None:
        """Wait (as a hot standby) until this process holds the lock."""
        waiting_logged = False
        while True:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(_conninfo(), autocommit=True)
                cursor = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", [self.key])
                row = await cursor.fetchone()
                if row is not None and row[0]:
                    self.held, self.lost = True, False
                    logger.info("feed lock for %s acquired: this runner is active", self.market_set)
                    if waiting_logged:
                        alerts.alert(
                            alerts.FEED_FAILOVER,
                            f"Feed runner failed over: the standby (pid {os.getpid()}) took over {self.market_set}.",
                        )
                    return
            except psycopg.OperationalError as exc:
                logger.warning("feed lock: database unavailable (%s); retrying", exc)
                self._conn = None
            if not waiting_logged:
                logger.info("feed lock for %s is held by another runner: waiting as standby", self.market_set)
                waiting_logged = True
            await asyncio.sleep(self.poll_interval)

    async def watch(self) -> None:
        """Return when the lock's session is gone (the database restarted or dropped us)."""
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                if self._conn is None or self._conn.closed:
                    raise psycopg.OperationalError("the lock's connection is closed")
                await self._conn.execute("SELECT 1")
            except psycopg.Error as exc:
                logger.error("feed lock session lost (%s): stopping, another runner may take over", exc)
                self.held, self.lost = False, True
                return

    async def release(self) -> None:
        if self._conn is not None and not self._conn.closed:
            try:
                await self._conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
            except psycopg.Error as exc:
                logger.warning("feed lock release failed (%s); closing the session frees it", exc)
            await self._conn.close()
        self._conn = None
        self.held = False

    def health(self) -> ComponentHealth:
        return ComponentHealth(
            "feed_lock",
            self.held,
            Criticality.CRITICAL,
            "" if self.held else ("lock session lost" if self.lost else "not holding the lock"),
            {"market_set": self.market_set, "key": self.key},
        )
