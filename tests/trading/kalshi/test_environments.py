"""KALSHI_ENV picks the hosts; URL settings override; keys come from settings or the simulator."""

import pytest

from tests.configs import configure
from trading.kalshi.environments import kalshi_endpoints
from trading.kalshi.signing import SigningKeyError
from trading.kalshi.sim_keys import ensure_sim_keys

from .conftest import KEY_ID


@pytest.fixture
def real_key(settings, key_files):
    configure(settings, "KALSHI", api_key_id=KEY_ID, private_key_path=str(key_files[0]), api_url="", ws_url="")
    return settings


def test_sim_urls_come_from_sim_host_and_port(real_key) -> None:
    configure(real_key, "KALSHI", env="sim", sim_host="127.0.0.1", sim_port=9999)
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
    configure(real_key, "KALSHI", env=env)
    endpoints = kalshi_endpoints()
    assert (endpoints.env, endpoints.rest_url, endpoints.ws_url) == (env, rest_url, ws_url)


def test_url_settings_override(real_key) -> None:
    configure(
        real_key,
        "KALSHI",
        env="prod",
        api_url="https://api.elections.kalshi.com/trade-api/v2/",
        ws_url="wss://api.elections.kalshi.com/trade-api/ws/v2",
    )
    endpoints = kalshi_endpoints()
    assert endpoints.rest_url == "https://api.elections.kalshi.com/trade-api/v2"
    assert endpoints.ws_url == "wss://api.elections.kalshi.com/trade-api/ws/v2"


def test_demo_without_a_key_names_the_setting(settings) -> None:
    configure(settings, "KALSHI", env="demo", api_key_id="", private_key_path="")
    with pytest.raises(SigningKeyError, match="KALSHI_API_KEY_ID"):
        kalshi_endpoints()


def test_unreadable_key_file_names_the_setting(settings, tmp_path) -> None:
    configure(settings, "KALSHI", env="prod", api_key_id="abc", private_key_path=str(tmp_path / "missing.pem"))
    with pytest.raises(SigningKeyError, match="KALSHI_PRIVATE_KEY_PATH"):
        kalshi_endpoints()


def test_sim_without_a_key_uses_the_simulator_key_pair(settings, tmp_path) -> None:
    configure(settings, "KALSHI", env="sim", api_key_id="", private_key_path="", sim_dir=tmp_path / "sim")
    endpoints = kalshi_endpoints()
    keys = ensure_sim_keys(settings.KALSHI.sim_dir)
    assert endpoints.signer.key_id == keys.key_id
