"""The Procfile as an operator runs it (``make services-run``: migrate, then ``honcho
start``) against the run's Postgres server and Redis: a database of its own, Redis
keys under a prefix of its own (deleted at the end, nothing else), settings from a
``.env`` file, and a whale traded on the simulator comes out decided."""

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis

from tests.browser.server import BIN, ROOT, free_port, manage

pytestmark = [pytest.mark.needs_postgres, pytest.mark.needs_redis]

# How long the whole stack may take to start and decide a whale on a busy 2-core
# machine; the wait ends as soon as the decision is in the database.
DECIDED_WITHIN = 120
# Far above WHALE_MIN_NOTIONAL at any price.
WHALE_COUNT = "5000000.00"


def _database_url(name: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def database() -> Iterator[str]:
    """A database of this test's own on the run's Postgres server, dropped afterwards."""
    name = f"v3_procfile_{os.getpid()}"
    admin = _database_url("postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _database_url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def prefix() -> Iterator[str]:
    """Redis keys of this test's own (Celery's and the channel layer's); only they are deleted."""
    prefix = f"v3procfile{os.getpid()}"
    yield prefix
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def _decisions(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM trading_whaledecision").fetchone()
    return row[0] if row else 0


def test_procfile_runs_the_services_and_decides_a_whale(database, prefix, tmp_path):
    sim_port = free_port()
    env_file = tmp_path / ".env"
    # The database and the whale rule come from the .env file alone: django-environ
    # (migrate, run by hand) and honcho (every process) both read it.
    env_file.write_text(
        f"DATABASE_URL={database}\n"
        "WHALE_MIN_NOTIONAL=10000\n"
        "WHALE_RELATIVE_FACTOR=1000000000\n"
        "EXEC_MAX_SPREAD=0.50\n"
        "EXEC_MAX_BOOK_AGE=30\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        V3_ENV_FILE=str(env_file),
        DJANGO_SETTINGS_MODULE="v3site.settings",
        DEBUG="1",
        KALSHI_ENV="sim",
        SIM_PORT=str(sim_port),
        WEB_PORT=str(free_port()),
        V3_DATA_DIR=str(tmp_path / "data"),
        REDIS_KEY_PREFIX=f"{prefix}:",
        CHANNELS_PREFIX=prefix,
        PATH=f"{BIN}:{env['PATH']}",
    )
    manage(env, "migrate", "--no-input", "-v0")
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "-e", str(env_file), "start"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert _whale_decided(honcho, database, f"http://127.0.0.1:{sim_port}", log), _tail(log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(honcho.pid, signal.SIGTERM)
        try:
            honcho.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            honcho.wait(10)
    output = log.read_text(errors="replace")
    for name in ("simulator", "web", "feeds", "standby", "decisions", "orders", "beat"):
        assert f"{name}.1 started" in output, f"{name} did not start:\n{_tail(log)}"


def _whale_decided(honcho: subprocess.Popen, database: str, sim_url: str, log: Path) -> bool:
    """Trade whales on the simulator until one is decided (the feed may not be subscribed
    to the first), or the stack dies, or DECIDED_WITHIN passes."""
    deadline = time.monotonic() + DECIDED_WITHIN
    while time.monotonic() < deadline and honcho.poll() is None:
        with contextlib.suppress(httpx.HTTPError, IndexError, KeyError):
            markets = httpx.get(f"{sim_url}/trade-api/v2/markets", timeout=5).json()["markets"]
            httpx.post(
                f"{sim_url}/sim/control",
                json={
                    "action": "whale",
                    "market_ticker": markets[0]["ticker"],
                    "count": WHALE_COUNT,
                    "taker_side": "yes",
                },
                timeout=5,
            )
        with contextlib.suppress(psycopg.Error):
            if _decisions(database):
                return True
        time.sleep(2)
    return False


def _tail(log: Path) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-60:])
