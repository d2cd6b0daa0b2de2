"""Settings for the test run: find the local services, give the run its own data
folder and a throwaway secret key, then load the real settings unchanged."""

import os
import tempfile

from tests.services import detect

detect()
os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
# Concurrent test runs on one Redis must not hear each other's groups.
os.environ.setdefault("CHANNELS_PREFIX", f"test{os.getpid()}")
# Celery's keys too, so the run can delete its own keys and nobody else's (tests.services).
os.environ.setdefault("REDIS_KEY_PREFIX", f"v3test{os.getpid()}:")
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1")
# An operator's .env beside manage.py is not the tests' settings (nor their subprocesses').
os.environ.setdefault("V3_ENV_FILE", os.devnull)
os.environ.setdefault("V3_DATA_DIR", tempfile.mkdtemp(prefix="v3-test-data-"))

from v3site.settings import *  # noqa: E402,F403

# SQLite tests on a file, not Django's shared-cache memory database: the feed's threads
# (whales, marks, heartbeat) write at once, and shared cache answers "database table is
# locked" at once instead of waiting the busy timeout, as the embedded default's file does.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
