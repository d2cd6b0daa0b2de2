"""Kalshi signing as the simulator enforces it (PROTOCOL.md 2): a request signed by the
trusted key verifies; a wrong key, an unknown key id, a stale or future timestamp, a
missing signature or a signature over the query string are refused with Kalshi's 401
bodies, and the WebSocket upgrade is refused with HTTP 401 before the switch."""

import base64
import dataclasses
import time
from pathlib import Path

import httpx
import pytest
import websockets
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from websockets.exceptions import InvalidStatus

from tests.trading.simulator.conftest import KEY_ID, signing_client
from trading.kalshi.signing import Signer, generate_key_pair
from trading.simulator.rest import AUTH_ERRORS
from trading.simulator.server import SimConfig, SimulatorServer

BALANCE = "/trade-api/v2/portfolio/balance"
WS = "/trade-api/ws/v2"


@pytest.fixture(scope="module")
def impostor(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    """Another RSA key presenting the trusted key's id."""
    private, _ = generate_key_pair(tmp_path_factory.mktemp("impostor"), "impostor")
    return Signer.from_files(KEY_ID, str(private))


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_signed_request_verifies(rest: httpx.AsyncClient):
    response = await rest.get("/portfolio/balance")
    assert response.status_code == 200
    assert response.json()["balance"] == 100_000


async def test_public_market_data_needs_no_signature(sim: SimulatorServer):
    async with signing_client(sim, None) as client:
        assert (await client.get("/markets")).status_code == 200
        assert (await client.get(f"/markets/{sim.exchange.tickers[0]}/orderbook")).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong_key", "bad_signature"),
        ("unknown_key_id", "unknown_key"),
        ("stale", "stale"),
        ("far_future", "stale"),
        ("missing", "missing"),
        ("query_signed", "bad_signature"),
        ("short_path_signed", "bad_signature"),
    ],
)
async def test_bad_signatures_get_kalshis_401(
    sim: SimulatorServer, signer: Signer, impostor: Signer, sim_key: tuple[Path, Path], case: str, reason: str
):
    headers = {
        "wrong_key": lambda: impostor.headers("GET", BALANCE),
        "unknown_key_id": lambda: Signer("not-a-key-we-know", signer.private_key).headers("GET", BALANCE),
        "stale": lambda: signer.headers("GET", BALANCE, timestamp_ms=now_ms() - 60_000),
        "far_future": lambda: signer.headers("GET", BALANCE, timestamp_ms=now_ms() + 120_000),
        "missing": lambda: {},
        "query_signed": lambda: _raw_signed(signer, "GET", BALANCE + "?subaccount=0"),
        "short_path_signed": lambda: signer.headers("GET", "/portfolio/balance"),
    }[case]()
    async with signing_client(sim, None) as client:
        response = await client.get("/portfolio/balance", params={"subaccount": 0}, headers=headers)
    assert response.status_code == 401
    assert response.json() == AUTH_ERRORS[reason]


def _raw_signed(signer: Signer, method: str, path_with_query: str) -> dict[str, str]:
    """Sign the query string too (a classic client bug): Signer cuts it, so sign by hand."""
    ts = str(now_ms())
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    signature = signer.private_key.sign(f"{ts}{method}{path_with_query}".encode(), pss, hashes.SHA256())
    return {
        "KALSHI-ACCESS-KEY": signer.key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode(),
    }


async def test_timestamp_window_is_configurable(sim_config: SimConfig, signer: Signer):
    narrow = dataclasses.replace(sim_config, timestamp_past_s=1.0)
    async with SimulatorServer(narrow) as server, signing_client(server, None) as client:
        headers = signer.headers("GET", BALANCE, timestamp_ms=now_ms() - 5_000)
        response = await client.get("/portfolio/balance", headers=headers)
    assert response.status_code == 401
    assert response.json() == AUTH_ERRORS["stale"]


async def test_timestamps_inside_the_window_verify(sim: SimulatorServer, signer: Signer):
    async with signing_client(sim, None) as client:
        for offset in (-5_000, 25_000):
            headers = signer.headers("GET", BALANCE, timestamp_ms=now_ms() + offset)
            assert (await client.get("/portfolio/balance", headers=headers)).status_code == 200


async def test_websocket_handshake_signed_by_the_key_is_accepted(sim: SimulatorServer, signer: Signer):
    async with websockets.connect(sim.ws_url, additional_headers=signer.headers("GET", WS)) as ws:
        await ws.send('{"id": 1, "cmd": "list_subscriptions"}')
        assert '"type":"ok"' in await ws.recv()


@pytest.mark.parametrize("case", ["unsigned", "wrong_key", "stale"])
async def test_bad_websocket_handshake_is_refused_with_401(
    sim: SimulatorServer, signer: Signer, impostor: Signer, case: str
):
    headers = {
        "unsigned": {},
        "wrong_key": impostor.headers("GET", WS),
        "stale": signer.headers("GET", WS, timestamp_ms=now_ms() - 60_000),
    }[case]
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(sim.ws_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 401
