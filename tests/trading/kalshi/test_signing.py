"""Request signing (PROTOCOL.md 2): what the simulator accepts and refuses."""

import base64
import time

import httpx
import pytest

from trading.kalshi.connection import ConnectionFailed
from trading.kalshi.errors import KalshiApiError
from trading.kalshi.rest import KalshiRestClient
from trading.kalshi.signing import (
    ACCESS_KEY,
    ACCESS_SIGNATURE,
    ACCESS_TIMESTAMP,
    Signer,
    SigningKeyError,
    generate_key_pair,
    load_public_key,
    verify,
)
from trading.kalshi.ws import KalshiWebSocket

from .conftest import KEY_ID


def test_known_key_signs_and_verifies(signer, key_files) -> None:
    headers = signer.headers("get", "/trade-api/v2/portfolio/orders?limit=5", timestamp_ms=1795532400000)
    assert headers[ACCESS_KEY] == KEY_ID and headers[ACCESS_TIMESTAMP] == "1795532400000"
    assert len(base64.b64decode(headers[ACCESS_SIGNATURE], validate=True)) == 256  # RSA-2048
    public = load_public_key(key_files[1])
    # The query string is not signed, the method is upper-cased.
    assert verify(public, "1795532400000", "GET", "/trade-api/v2/portfolio/orders", headers[ACCESS_SIGNATURE])
    assert not verify(public, "1795532400001", "GET", "/trade-api/v2/portfolio/orders", headers[ACCESS_SIGNATURE])
    assert not verify(public, "1795532400000", "POST", "/trade-api/v2/portfolio/orders", headers[ACCESS_SIGNATURE])
    assert not verify(public, "1795532400000", "GET", "/portfolio/orders", headers[ACCESS_SIGNATURE])


def test_signatures_are_fresh(signer) -> None:
    first, second = (signer.headers("GET", "/trade-api/ws/v2", timestamp_ms=1) for _ in range(2))
    assert first[ACCESS_SIGNATURE] != second[ACCESS_SIGNATURE]  # PSS is salted


def test_signer_never_shows_the_key(signer) -> None:
    assert repr(signer) == f"Signer(key_id={KEY_ID!r})"
    assert "PRIVATE" not in str(signer)


def test_missing_or_unreadable_key_names_the_setting(tmp_path) -> None:
    with pytest.raises(SigningKeyError, match="KALSHI_API_KEY_ID"):
        Signer.from_files("", str(tmp_path / "k.pem"))
    with pytest.raises(SigningKeyError, match="KALSHI_PRIVATE_KEY_PATH is not set"):
        Signer.from_files("id", "")
    with pytest.raises(SigningKeyError, match="cannot be read"):
        Signer.from_files("id", str(tmp_path / "absent.pem"))
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(SigningKeyError, match="unencrypted RSA private key"):
        Signer.from_files("id", str(tmp_path / "junk.pem"))


async def test_simulator_accepts_signed_requests(sim, signer) -> None:
    async with KalshiRestClient(sim.rest_url, signer) as http:
        assert (await http.balance()).cash == sim.exchange.account.balance


@pytest.fixture(scope="module")
def wrong_signer(tmp_path_factory) -> Signer:
    private, _ = generate_key_pair(tmp_path_factory.mktemp("wrong-key"), "other")
    return Signer.from_files(KEY_ID, str(private))  # the right key id, the wrong key


async def test_wrong_key_is_refused(sim, wrong_signer) -> None:
    async with KalshiRestClient(sim.rest_url, wrong_signer, max_retries=0) as http:
        with pytest.raises(KalshiApiError) as caught:
            await http.balance()
    assert caught.value.status == 401 and caught.value.details == "INCORRECT_API_KEY_SIGNATURE"


async def test_wrong_key_is_refused_on_the_websocket(sim, wrong_signer) -> None:
    ws = KalshiWebSocket(sim.ws_url, wrong_signer, max_attempts=1)
    with pytest.raises(ConnectionFailed):
        await ws.run()
    assert ws.metrics.connects == 0


async def test_stale_timestamp_is_refused(sim, signer) -> None:
    path = "/trade-api/v2/portfolio/balance"
    stale = signer.headers("GET", path, timestamp_ms=int((time.time() - 120) * 1000))
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{sim.rest_url}/portfolio/balance", headers=stale)
    assert response.status_code == 401
    assert KalshiApiError.from_response(401, response.content).code == "header_timestamp_expired"
