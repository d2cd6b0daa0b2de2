"""Which real services the test run has: the environment's URLs, or the default
local ports when they answer. Tests that need one skip without it, and fail
instead when V3_REQUIRE_SERVICES=1 (CI), so CI can never pass by skipping."""

import os
import socket

import pytest

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/v3trader"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def detect() -> None:
    """Fill DATABASE_URL / REDIS_URL from the local default ports when unset."""
    if "DATABASE_URL" not in os.environ and _port_answers("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = DEFAULT_DATABASE_URL
    if "REDIS_URL" not in os.environ and _port_answers("127.0.0.1", 6379):
        os.environ["REDIS_URL"] = DEFAULT_REDIS_URL


def delete_own_redis_keys() -> int:
    """Delete this run's keys (``REDIS_KEY_PREFIX``) from REDIS_URL's database, and
    nothing else: the database may be a developer's own (``redis://...:6379/0``)."""
    import redis

    prefix = os.environ.get("REDIS_KEY_PREFIX", "")
    if not prefix:
        raise RuntimeError("REDIS_KEY_PREFIX is empty: deleting the run's keys would delete every key")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    return client.delete(*keys) if keys else 0


def services_required() -> bool:
    return os.environ.get("V3_REQUIRE_SERVICES") == "1"


def missing(what: str) -> None:
    """Skip the test for want of a service, or fail it when services are required."""
    if services_required():
        pytest.fail(f"{what} is required (V3_REQUIRE_SERVICES=1) but not available", pytrace=False)
    pytest.skip(f"{what} not available: set it or start it on its default local port")
