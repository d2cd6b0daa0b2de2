"""Fixtures for the simulator's tests: a key pair the simulator trusts, a running
simulator on an ephemeral port (random walk paused, so tests step it explicitly),
and signed REST / WebSocket clients."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from trading.kalshi.signing import Signer, generate_key_pair
from trading.simulator.server import SimConfig, SimulatorServer

KEY_ID = "5d0c3f9e-1111-4a2b-9c3d-0123456789ab"
EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "kalshi" / "examples"


@pytest.fixture(scope="session")
def sim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(private, public) PEM paths of the key the simulator trusts."""
    return generate_key_pair(tmp_path_factory.mktemp("sim-key"), KEY_ID)


@pytest.fixture(scope="session")
def signer(sim_key: tuple[Path, Path]) -> Signer:
    return Signer.from_files(KEY_ID, str(sim_key[0]))


@pytest.fixture
def sim_config(sim_key: tuple[Path, Path]) -> SimConfig:
    return SimConfig(markets=4, seed=11, key_id=KEY_ID, public_key_path=sim_key[1], paused=True)


@pytest.fixture
async def sim(sim_config: SimConfig) -> AsyncIterator[SimulatorServer]:
    async with SimulatorServer(sim_config) as server:
        yield server


def signing_client(server: SimulatorServer, signer: Signer | None) -> httpx.AsyncClient:
    """An httpx client on the simulator's REST base that signs every request (unsigned with None)."""

    async def sign(request: httpx.Request) -> None:
        if signer is not None:
            request.headers.update(signer.headers(request.method, request.url.raw_path.decode()))

    return httpx.AsyncClient(base_url=server.rest_url, event_hooks={"request": [sign]}, timeout=10)


@pytest.fixture
async def rest(sim: SimulatorServer, signer: Signer) -> AsyncIterator[httpx.AsyncClient]:
    async with signing_client(sim, signer) as client:
        yield client


class SimSocket:
    """A signed WebSocket to the simulator with small helpers for commands and replies."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.next_id = 1

    async def command(self, cmd: str, params: dict[str, Any] | None = None) -> int:
        cmd_id = self.next_id
        self.next_id += 1
        frame: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
        if params is not None:
            frame["params"] = params
        await self.ws.send(json.dumps(frame))
        return cmd_id

    async def recv(self) -> dict[str, Any]:
        return json.loads(await self.ws.recv())

    async def until(self, predicate: Any, limit: int = 10_000) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Read until ``predicate(message)``; returns (messages before it, the matching one)."""
        seen = []
        for _ in range(limit):
            message = await self.recv()
            if predicate(message):
                return seen, message
            seen.append(message)
        raise AssertionError(f"no matching message in {limit}")

    async def barrier(self) -> list[dict[str, Any]]:
        """Everything the server sent up to its answer to a fresh list_subscriptions (included, last)."""
        cmd_id = await self.command("list_subscriptions")
        seen, reply = await self.until(lambda m: m.get("type") == "ok" and m.get("id") == cmd_id)
        return [*seen, reply]


@pytest.fixture
async def socket(sim: SimulatorServer, signer: Signer) -> AsyncIterator[SimSocket]:
    headers = signer.headers("GET", "/trade-api/ws/v2")
    async with websockets.connect(sim.ws_url, additional_headers=headers, compression=None) as ws:
        yield SimSocket(ws)


def order_body(ticker: str, side: str, count: str, price: str, tif: str = "good_till_canceled", **extra: Any) -> dict:
    """A CreateOrderV2 request body (PROTOCOL.md 8)."""
    return {
        "ticker": ticker,
        "side": side,
        "count": count,
        "price": price,
        "time_in_force": tif,
        "self_trade_prevention_type": "taker_at_cross",
        **extra,
    }
