"""How many dashboard sockets each user has open, across every web process.

The site runs one daphne per core (README), so a per-process count would let a
user open WS_MAX_CONNECTIONS_PER_USER sockets in each. In the services shape the
count lives in Redis: one sorted set per user, a member per socket scored by when
its claim expires. A socket renews its claim at each session re-check, so the
sockets of a web process that died without closing them stop counting once their
claims run out (SLOT_TTL), instead of locking their user out for good. The
embedded default is one process, and counts in it.

If Redis cannot be reached the socket is let in (and the failure logged): the
channel layer lives on the same Redis, so such a socket carries nothing anyway.
"""

import asyncio
import logging
import time
import weakref
from typing import Protocol

import redis.asyncio as aioredis
from django.conf import settings

logger = logging.getLogger(__name__)

# A claim outlives three missed renewals: one late re-check (a busy process, a
# database hiccup) must not make a socket count as gone.
SLOT_TTL_RENEWALS = 3

# Atomic: drop expired claims, refuse when full, else claim. The server's clock,
# so web processes on several machines agree. Returns 1 when claimed.
_CLAIM = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


def slot_ttl() -> float:
    return SLOT_TTL_RENEWALS * settings.DASHBOARD.session_check_interval


class SocketSlots(Protocol):
    async def claim(self, user_id: int, socket_id: str, *, limit: int) -> bool:
        """Take a slot for ``socket_id`` (or renew its own); False when ``limit`` are taken."""

    async def release(self, user_id: int, socket_id: str) -> None: ...


class RedisSlots:
    def __init__(self, url: str, prefix: str) -> None:
        self.redis = aioredis.Redis.from_url(url)
        self.prefix = prefix
        self.claim_script = self.redis.register_script(_CLAIM)

    def key(self, user_id: int) -> str:
        return f"{self.prefix}:dashboard-sockets:{user_id}"

    async def claim(self, user_id: int, socket_id: str, *, limit: int) -> bool:
        ttl = max(1, round(slot_ttl()))
        try:
            return bool(await self.claim_script(keys=[self.key(user_id)], args=[socket_id, limit, ttl]))
        except aioredis.RedisError as exc:
            logger.warning("socket count of user %s unavailable (%s): letting the socket in", user_id, exc)
            return True

    async def release(self, user_id: int, socket_id: str) -> None:
        try:
            await self.redis.zrem(self.key(user_id), socket_id)
        except aioredis.RedisError as exc:
            logger.warning("socket count of user %s not decremented (%s); the claim expires", user_id, exc)


class LocalSlots:
    """The embedded default's count: one process holds every socket."""

    def __init__(self) -> None:
        self.claims: dict[int, dict[str, float]] = {}

    async def claim(self, user_id: int, socket_id: str, *, limit: int) -> bool:
        now = time.monotonic()
        claims = {s: until for s, until in self.claims.get(user_id, {}).items() if until > now}
        if socket_id not in claims and len(claims) >= limit:
            self.claims[user_id] = claims
            return False
        claims[socket_id] = now + slot_ttl()
        self.claims[user_id] = claims
        return True

    async def release(self, user_id: int, socket_id: str) -> None:
        claims = self.claims.get(user_id, {})
        claims.pop(socket_id, None)
        if not claims:
            self.claims.pop(user_id, None)


_slots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SocketSlots]" = weakref.WeakKeyDictionary()


def slots() -> SocketSlots:
    """This event loop's counter (a Redis client belongs to the loop it was made on)."""
    loop = asyncio.get_running_loop()
    found = _slots.get(loop)
    if found is None:
        found = _slots[loop] = (
            RedisSlots(settings.REDIS_URL, settings.CHANNELS_PREFIX) if settings.REDIS_URL else LocalSlots()
        )
    return found
