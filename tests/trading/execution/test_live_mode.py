"""Live trading only when asked for explicitly, and on prod only when allowed:
otherwise every process refuses to start (settings raise ImproperlyConfigured)."""

import os
import subprocess
from pathlib import Path

import pytest

from tests import fresh_python

ROOT = Path(__file__).resolve().parents[3]
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.KALSHI.trading_mode)"


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KALSHI_", "TRADING_", "V3_ALLOW"))}
    base.update({"DJANGO_SETTINGS_MODULE": "v3site.settings", "V3_DATA_DIR": str(tmp_path), **env})
    base.pop("DATABASE_URL", None)
    base.pop("REDIS_URL", None)
    return fresh_python.run_python(PROBE, env=base)


def key_files(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "key.pem"
    key.write_text("not read at start-up")
    return {"KALSHI_API_KEY_ID": "00000000-0000-0000-0000-000000000000", "KALSHI_PRIVATE_KEY_PATH": str(key)}


def test_paper_is_the_default(tmp_path):
    result = start(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "paper"


def test_live_on_prod_without_allow_prod_is_refused(tmp_path):
    result = start(tmp_path, TRADING_MODE="live", KALSHI_ENV="prod", **key_files(tmp_path))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "V3_ALLOW_PROD=1" in result.stderr


def test_live_without_api_key_is_refused(tmp_path):
    result = start(tmp_path, TRADING_MODE="live", KALSHI_ENV="demo")
    assert result.returncode != 0
    assert "needs KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH" in result.stderr


@pytest.mark.parametrize("env", ["demo", "prod"])
def test_live_with_its_settings_starts(tmp_path, env):
    result = start(tmp_path, TRADING_MODE="live", KALSHI_ENV=env, V3_ALLOW_PROD="1", **key_files(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "live"


def test_a_bad_limit_names_its_variable(tmp_path):
    result = start(tmp_path, EXEC_MAX_EXPOSURE="lots")
    assert result.returncode != 0
    assert "EXEC_MAX_EXPOSURE='lots'" in result.stderr
