import os

import pytest
from django.conf import settings

from tests.chaos.stack import binaries_missing
from tests.services import delete_own_redis_keys, missing


def _redis_answers() -> bool:
    import redis

    url = os.environ.get("REDIS_URL")
    if not url:
        return False
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_postgres") and settings.DATABASES["default"]["ENGINE"] != (
        "django.db.backends.postgresql"
    ):
        missing("Postgres (DATABASE_URL)")
    if item.get_closest_marker("needs_redis") and not _redis_answers():
        missing("Redis (REDIS_URL)")
    if item.get_closest_marker("chaos") and (absent := binaries_missing()):
        missing(f"the Postgres and Redis server programs ({', '.join(absent)})")


@pytest.fixture(scope="session", autouse=True)
def own_redis_keys_deleted_at_the_end():
    """Tasks enqueued with no worker to take them stay queued: the run deletes its keys (only its own)."""
    yield
    if _redis_answers():
        delete_own_redis_keys()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(username="trader", password="pw-not-used")


@pytest.fixture
def session_cookie(client):
    """``session_cookie(user)`` -> the Cookie header value of a logged-in session."""

    def make(user) -> bytes:
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()

    return make
