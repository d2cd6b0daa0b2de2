"""The two settings shapes, chosen by the environment alone, each in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import fresh_python

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
}))
"""

TALK = """
import django, asyncio
django.setup()
from django.db import connection
from channels.layers import get_channel_layer
from celery import current_app
with connection.cursor() as c:
    c.execute("select version()")
    print(c.fetchone()[0].split()[0])
async def roundtrip():
    layer = get_channel_layer()
    name = await layer.new_channel()
    await layer.send(name, {"type": "probe", "n": 7})
    print((await layer.receive(name))["n"])
asyncio.run(roundtrip())
with current_app.connection_for_write() as conn:
    conn.ensure_connection(max_retries=1)
    print(conn.transport_cls)
"""


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}
    base.pop("ALLOWED_HOSTS", None)
    base.update({"DJANGO_SETTINGS_MODULE": "v3site.settings", "V3_DATA_DIR": str(tmp_path)}, **env)
    return fresh_python.run_python(code, env=base)


def test_embedded_default_needs_no_services(tmp_path):
    result = run_python(PROBE, tmp_path)
    assert result.returncode == 0, result.stderr
    shape = json.loads(result.stdout)
    assert shape == {
        "engine": "django.db.backends.sqlite3",
        "layer": "channels.layers.InMemoryChannelLayer",
        "eager": True,
        "broker": "memory://localhost/",
        "debug": False,
    }
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert run_python(PROBE, tmp_path).returncode == 0
    assert (tmp_path / "secret_key").read_text() == key, "the generated key is kept, not regenerated"


def test_services_shape_from_environment(tmp_path):
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/v3trader",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "trader.example.com",
    }
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    shape = json.loads(result.stdout)
    assert shape["engine"] == "django.db.backends.postgresql"
    assert shape["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert shape["eager"] is False
    assert shape["broker"] == "redis://127.0.0.1:6379/0"


@pytest.mark.needs_postgres
@pytest.mark.needs_redis
def test_services_shape_really_talks_to_postgres_and_redis(tmp_path):
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/postgres",
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "localhost",
    }
    result = run_python(TALK, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    version, roundtrip, transport = result.stdout.split()
    assert version == "PostgreSQL"
    assert roundtrip == "7"
    assert "redis" in transport.lower()


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_services_shape_without_debug_refuses_missing_settings(tmp_path, missing):
    env = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/v3trader",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "x" * 50,
        "ALLOWED_HOSTS": "trader.example.com",
    }
    del env[missing]
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} is not set" in result.stderr


def test_bad_kalshi_env_is_a_clear_error(tmp_path):
    result = run_python(PROBE, tmp_path, KALSHI_ENV="staging")
    assert result.returncode != 0
    assert "KALSHI_ENV='staging' is not one of sim, demo, prod" in result.stderr


PROD_REST = "https://external-api.kalshi.com/trade-api/v2"
LIVE_KEY = {"KALSHI_API_KEY_ID": "00000000-0000-0000-0000-000000000000", "KALSHI_PRIVATE_KEY_PATH": "/nonexistent"}


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        ({"KALSHI_ENV": "sim", "KALSHI_API_URL": PROD_REST}, "KALSHI_API_URL", "real money"),
        ({"KALSHI_ENV": "demo", "KALSHI_API_URL": PROD_REST}, "KALSHI_API_URL", "not a KALSHI_ENV=demo host"),
        (
            {"KALSHI_ENV": "demo", "KALSHI_WS_URL": "wss://api.elections.kalshi.com/trade-api/ws/v2"},
            "KALSHI_WS_URL",
            "not a KALSHI_ENV=demo host",
        ),
        (
            {"KALSHI_ENV": "sim", "KALSHI_API_URL": "http://trading-api.kalshi.com/trade-api/v2"},
            "KALSHI_API_URL",
            "real money",
        ),
        (
            {"KALSHI_ENV": "sim", "TRADING_MODE": "live", "KALSHI_API_URL": PROD_REST, "V3_ALLOW_PROD": "1"},
            "KALSHI_API_URL",
            "not a KALSHI_ENV=sim host",
        ),
        ({"KALSHI_ENV": "sim", "KALSHI_WS_URL": "ws://sim.example.com:8765/x"}, "KALSHI_WS_URL", "not a KALSHI_ENV"),
        ({"KALSHI_ENV": "sim", "SIM_HOST": "external-api.kalshi.com"}, "SIM_HOST", "one of Kalshi's hosts"),
        (
            {"KALSHI_ENV": "demo", "KALSHI_API_URL": "http://external-api.demo.kalshi.co/trade-api/v2"},
            "KALSHI_API_URL",
            "over TLS only",
        ),
        ({"KALSHI_ENV": "demo", "KALSHI_API_URL": "external-api.demo.kalshi.co"}, "KALSHI_API_URL", "has no host"),
    ],
)
def test_url_override_off_its_environment_refuses_to_start(tmp_path, env, variable, says):
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{variable}=" in result.stderr and says in result.stderr


@pytest.mark.parametrize(
    "env",
    [
        {"KALSHI_ENV": "sim", "KALSHI_API_URL": "http://127.0.0.1:9999/trade-api/v2"},
        {
            "KALSHI_ENV": "demo",
            "KALSHI_API_URL": "http://localhost:8765/trade-api/v2",
            "KALSHI_WS_URL": "ws://[::1]:1/x",
        },
        {"KALSHI_ENV": "demo", "KALSHI_API_URL": "https://demo-api.kalshi.co/trade-api/v2"},
        {"KALSHI_ENV": "prod"},
        {
            "KALSHI_ENV": "prod",
            "TRADING_MODE": "live",
            "V3_ALLOW_PROD": "1",
            "KALSHI_API_URL": "https://api.elections.kalshi.com/trade-api/v2",
            **LIVE_KEY,
        },
        {"KALSHI_ENV": "sim", "SIM_HOST": "sim.internal", "KALSHI_API_URL": "http://sim.internal:8765/trade-api/v2"},
    ],
    ids=["sim-loopback", "demo-loopback", "demo-alt-host", "paper-on-prod-book", "live-prod-allowed", "sim-host"],
)
def test_url_override_on_its_environment_starts(tmp_path, env):
    result = run_python(PROBE, tmp_path, **env)
    assert result.returncode == 0, result.stderr


FILE_MODES = """
import os, stat, pathlib
os.umask(0)  # what the umask would not protect: only the creation mode counts
def refuse(*args, **kwargs):
    raise AssertionError("chmod after creation")
os.chmod = pathlib.Path.chmod = refuse
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("create table probe (n integer)")
data = pathlib.Path(os.environ["V3_DATA_DIR"])
for path in (data, data / "secret_key", data / "v3trader.sqlite3"):
    print(path.name, oct(stat.S_IMODE(path.stat().st_mode)))
"""


def test_embedded_default_creates_its_files_private(tmp_path):
    data = tmp_path / "fresh" / "data"
    result = run_python(FILE_MODES, tmp_path, V3_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert dict(line.split() for line in result.stdout.splitlines()) == {
        "data": "0o700",
        "secret_key": "0o600",
        "v3trader.sqlite3": "0o600",
    }


CHECK_DEPLOY = """
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
"""
DEPLOY_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/v3trader",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "k3Yq-8vN_a1LrT0pWz6sXe2bHc9mJd4uFg7iKo5tRyQwEa0SdZx",
    "ALLOWED_HOSTS": "trader.example.com",
}


def test_check_deploy_is_clean_with_v3_https(tmp_path):
    result = run_python(CHECK_DEPLOY, tmp_path, V3_HTTPS="1", **DEPLOY_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


def test_check_deploy_without_v3_https_lists_what_it_would_fix(tmp_path):
    result = run_python(CHECK_DEPLOY, tmp_path, **DEPLOY_ENV)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


HTTPS_PROBE = """
import django
django.setup()
from django.test import Client
client = Client()
plain = client.get("/login/")
print("plain", plain.status_code, plain.get("Location"))
print("healthz", client.get("/healthz").status_code)
secure = client.get("/login/", headers={"X-Forwarded-Proto": "https"})
print("secure", secure.status_code, secure["Strict-Transport-Security"])
cookie = secure.cookies["csrftoken"]
print("cookie", bool(cookie["secure"]), bool(cookie["httponly"]))
"""


def test_v3_https_redirects_and_sends_hsts_and_secure_cookies(tmp_path):
    result = run_python(HTTPS_PROBE, tmp_path, V3_HTTPS="1", V3_HSTS_SECONDS="600", ALLOWED_HOSTS="testserver")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "plain 301 https://testserver/login/",
        "healthz 200",
        "secure 200 max-age=600; includeSubDomains; preload",
        "cookie True True",
    ]


# One bad value per area module of v3site/settings/.
BAD_VALUES = [
    ("CONN_MAX_AGE", "a minute", "CONN_MAX_AGE='a minute'"),
    ("SESSION_MAX_AGE", "1d", "SESSION_MAX_AGE='1d'"),
    ("CELERY_DB_REUSE_MAX", "many", "CELERY_DB_REUSE_MAX='many'"),
    ("SIM_PORT", "http", "SIM_PORT='http'"),
    ("SIM_MARKET_LIFETIME", "-5", "SIM_MARKET_LIFETIME=-5.0 must be 0 (off) or more seconds"),
    ("TRADING_MODE", "real", "TRADING_MODE='real' is not one of paper, live"),
    ("EXEC_MAX_SPREAD", "5 cents", "EXEC_MAX_SPREAD='5 cents'"),
    ("EXEC_COOLDOWN", "1m", "EXEC_COOLDOWN='1m'"),
    ("EXEC_SIZE_MODE", "all", "EXEC_SIZE_MODE='all' is not one of fixed, fraction"),
    ("EXEC_DECISION_TTL", "soon", "EXEC_DECISION_TTL='soon'"),
    ("FEED_MARKET_COUNT", "ten", "FEED_MARKET_COUNT='ten'"),
    ("WHALE_MIN_NOTIONAL", "1,000", "WHALE_MIN_NOTIONAL='1,000'"),
    ("WHALE_RELATIVE_FACTOR", "1", "WHALE_RELATIVE_FACTOR=1.0 must be greater than 1"),
    ("FEED_HEARTBEAT_TTL", "1", "FEED_HEARTBEAT_TTL must be at least twice FEED_HEARTBEAT_INTERVAL"),
    ("FEED_RECORD_KEEP_HOURS", "0", "FEED_RECORD_KEEP_HOURS must be at least 1"),
    ("OUTCOME_FILL_INTERVAL", "5s", "OUTCOME_FILL_INTERVAL='5s'"),
    ("DASHBOARD_PING_INTERVAL", "30s", "DASHBOARD_PING_INTERVAL='30s'"),
    ("WS_MAX_CONNECTIONS_PER_USER", "twenty", "WS_MAX_CONNECTIONS_PER_USER='twenty'"),
    ("ACTIVITY_RETENTION", "7d", "ACTIVITY_RETENTION='7d'"),
    ("FEED_BOOK_MAX_AGE", "", "FEED_BOOK_MAX_AGE=''"),
]


@pytest.mark.parametrize(("variable", "value", "says"), BAD_VALUES, ids=[row[0] for row in BAD_VALUES])
def test_a_bad_value_in_any_area_names_its_variable(tmp_path, variable, value, says):
    result = run_python(PROBE, tmp_path, **{variable: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {says}" in result.stderr


def test_a_bad_hsts_duration_names_its_variable(tmp_path):
    result = run_python(PROBE, tmp_path, V3_HTTPS="1", V3_HSTS_SECONDS="a year")
    assert result.returncode != 0
    assert "ImproperlyConfigured: V3_HSTS_SECONDS='a year'" in result.stderr


AREAS = """
import django
django.setup()
from django.conf import settings
print(settings.KALSHI.env, settings.KALSHI.trading_mode, settings.KALSHI.sim_port)
print(settings.EXECUTION.rules.max_spread, settings.EXECUTION.limits.max_open_orders, settings.EXECUTION.decision_ttl)
print(settings.FEED.markets, settings.FEED.market_count, settings.FEED.whale_min_notional)
print(settings.DASHBOARD.ping_interval, settings.RETENTION.activity_retention, settings.SESSION_COOKIE_AGE)
beat = settings.CELERY_BEAT_SCHEDULE
print(beat["reconcile"]["schedule"], beat["prune-activity"]["schedule"])
"""


def test_each_area_is_one_typed_config_read_from_its_variables(tmp_path):
    env = {
        "KALSHI_ENV": "demo",
        "SIM_PORT": "9001",
        "EXEC_MAX_SPREAD": "0.10",
        "EXEC_MAX_OPEN_ORDERS": "3",
        "EXEC_DECISION_TTL": "45",
        "EXEC_RECONCILE_INTERVAL": "15",
        "V3_MARKETS": "KXA,KXB",
        "FEED_MARKET_COUNT": "4",
        "WHALE_MIN_NOTIONAL": "250.50",
        "DASHBOARD_PING_INTERVAL": "12.5",
        "ACTIVITY_RETENTION": "3600",
        "ACTIVITY_PRUNE_INTERVAL": "60",
        "SESSION_MAX_AGE": "600",
    }
    result = run_python(AREAS, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "demo paper 9001",
        "1000 3 45.0",
        "('KXA', 'KXB') 4 250500000",
        "12.5 3600.0 600",
        "15.0 60.0",
    ]


def test_the_typed_configs_import_without_django_or_v3site():
    code = (
        "import sys, trading.config; print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'v3site')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


BROKER_OPTIONS = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps(settings.CELERY_BROKER_TRANSPORT_OPTIONS, sort_keys=True))
"""


def test_a_redis_key_prefix_keeps_the_prompt_redelivery_options(tmp_path):
    env = {"REDIS_URL": "redis://127.0.0.1:6379/0", "DEBUG": "1", "REDIS_KEY_PREFIX": "deploy1:"}
    result = run_python(BROKER_OPTIONS, tmp_path, **env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "global_keyprefix": "deploy1:",
        "unacked_restore_interval": 5,
        "unacked_restore_throttle": 1,
        "visibility_timeout": 50,
    }
