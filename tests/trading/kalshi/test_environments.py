"""KALSHI_ENV picks the hosts; URL settings override; keys come from settings or the simulator."""

from pathlib import Path

import pytest

from trading.kalshi.environments import kalshi_endpoints
from trading.kalshi.signing import SigningKeyError
from trading.kalshi.sim_keys import ensure_sim_keys

from .conftest import KEY_ID


@pytest.fixture
def real_key(settings, key_files):
    settings.KALSHI_API_KEY_ID = KEY_ID
    settings.KALSHI_PRIVATE_KEY_PATH = str(key_files[0])
    settings.KALSHI_API_URL = settings.KALSHI_WS_URL = ""
    return settings


def test_sim_urls_come_from_sim_host_and_port(real_key) -> None:
    real_key.KALSHI_ENV, real_key.SIM_HOST, real_key.SIM_PORT = "sim", "127.0.0.1", 9999
    endpoints = kalshi_endpoints()
    assert endpoints.rest_url == "http://127.0.0.1:9999/trade-api/v2"
    assert endpoints.ws_url == "ws://127.0.0.1:9999/trade-api/ws/v2"
    assert endpoints.signer.key_id == KEY_ID


@pytest.mark.parametrize(
    ("env", "rest_url", "ws_url"),
    [
        (
            "demo",
            "https://external-api.demo.kalshi.co/trade-api/v2",
            "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
        ),
        ("prod", "https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"),
    ],
)
def test_demo_and_prod_use_kalshi_hosts(real_key, env: str, rest_url: str, ws_url: str) -> None:
    real_key.KALSHI_ENV = env
    endpoints = kalshi_endpoints()
    assert (endpoints.env, endpoints.rest_url, endpoints.ws_url) == (env, rest_url, ws_url)


def test_url_settings_override(real_key) -> None:
    real_key.KALSHI_ENV = "prod"
    real_key.KALSHI_API_URL = "https://api.elections.kalshi.com/trade-api/v2/"
    real_key.KALSHI_WS_URL = "wss://api.elections.kalshi.com/trade-api/ws/v2"
    endpoints = kalshi_endpoints()
    assert endpoints.rest_url == "https://api.elections.kalshi.com/trade-api/v2"
    assert endpoints.ws_url == "wss://api.elections.kalshi.com/trade-api/ws/v2"


def test_demo_without_a_key_names_the_setting(settings) -> None:
    settings.KALSHI_ENV, settings.KALSHI_API_KEY_ID, settings.KALSHI_PRIVATE_KEY_PATH = "demo", "", ""
    with pytest.raises(SigningKeyError, match="KALSHI_API_KEY_ID"):
        kalshi_endpoints()


def test_unreadable_key_file_names_the_setting(settings, tmp_path) -> None:
    settings.KALSHI_ENV, settings.KALSHI_API_KEY_ID = "prod", "abc"
    settings.KALSHI_PRIVATE_KEY_PATH = str(tmp_path / "missing.pem")
    with pytest.raises(SigningKeyError, match="KALSHI_PRIVATE_KEY_PATH"):
        kalshi_endpoints()


def test_sim_without_a_key_uses_the_simulator_key_pair(settings, tmp_path) -> None:
    settings.KALSHI_ENV, settings.KALSHI_API_KEY_ID, settings.KALSHI_PRIVATE_KEY_PATH = "sim", "", ""
    settings.SIM_DIR = tmp_path / "sim"
    endpoints = kalshi_endpoints()
    keys = ensure_sim_keys(Path(settings.SIM_DIR))
    assert endpoints.signer.key_id == keys.key_id
