"""Kalshi's rate limits (PROTOCOL.md 9), mirrored by the REST client so it waits rather
than collecting 429s: tokens per tier, what a request costs, and the token bucket."""

import asyncio
import time

# PROTOCOL.md 9: tokens per second (read, write) per usage tier; a request costs
# 10 tokens unless listed in ENDPOINT_COSTS. Prestige reads: the docs disagree
# (6,000 or 10,000); the lower figure cannot get us throttled.
TIERS: dict[str, tuple[int, int]] = {
    "basic": (200, 100),
    "advanced": (300, 300),
    "expert": (600, 600),
    "premier": (1_000, 1_000),
    "paragon": (2_000, 2_000),
    "prime": (4_000, 4_000),
    "prestige": (6_000, 8_000),
}
DEFAULT_COST = 10
# Live GET /account/endpoint_costs (2026-06): cheaper than the default.
CANCEL_COST = 2
GET_ORDER_COST = 2


class TokenBucket:
    """Kalshi's limiter mirrored locally, so we wait instead of collecting 429s.

    Capacity is one second of refill: the live Basic account showed exactly that,
    and a smaller burst than the docs' 2 s can only make us gentler."""

    def __init__(self, rate: float, capacity: float | None = None) -> None:
        self.rate = rate
        self.capacity = capacity or rate
        self.tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, cost: float) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self.tokens >= cost:
                    self.tokens -= cost
                    return
                await asyncio.sleep((cost - self.tokens) / self.rate)
