"""``manage.py simulate_exchange``: serves until SIGINT/SIGTERM and exits cleanly; without
--public-key it trusts the sim key pair it keeps in the data folder (where the trader's
KALSHI_ENV=sim settings find the private half)."""

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from tests.trading.simulator.conftest import KEY_ID
from trading.kalshi.signing import Signer
from trading.kalshi.sim_keys import KEY_ID_FILE

ROOT = Path(__file__).resolve().parents[3]
SERVING = re.compile(r"Simulator serving (http://\S+/trade-api/v2)")


async def start(data_dir: Path, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    env = os.environ | {"V3_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "v3site.settings"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "simulate_exchange",
        "--port",
        "0",
        "--markets",
        "3",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
    match = SERVING.search(line.decode())
    assert match, line
    return process, match.group(1)


async def stop(process: asyncio.subprocess.Process, sig: signal.Signals) -> str:
    process.send_signal(sig)
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    return stdout.decode()


async def test_serves_with_the_sim_key_and_stops_on_sigterm(tmp_path: Path):
    process, rest_url = await start(tmp_path)
    sim_dir = tmp_path / "sim"
    key_id = (sim_dir / KEY_ID_FILE).read_text().strip()
    signer = Signer.from_files(key_id, str(sim_dir / f"{key_id}.key"))
    async with httpx.AsyncClient(base_url=rest_url) as client:
        assert (await client.get("/exchange/status")).json()["trading_active"] is True
        path = "/trade-api/v2/portfolio/balance"
        assert (await client.get("/portfolio/balance", headers=signer.headers("GET", path))).status_code == 200
    assert "Simulator stopped." in await stop(process, signal.SIGTERM)


async def test_trusts_the_given_public_key_and_stops_on_sigint(tmp_path: Path, sim_key: tuple[Path, Path], signer):
    process, rest_url = await start(tmp_path, "--public-key", str(sim_key[1]), "--key-id", KEY_ID, "--paused")
    async with httpx.AsyncClient(base_url=rest_url) as client:
        path = "/trade-api/v2/portfolio/balance"
        assert (await client.get("/portfolio/balance", headers=signer.headers("GET", path))).status_code == 200
    assert not (tmp_path / "sim").exists()
    assert "Simulator stopped." in await stop(process, signal.SIGINT)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--public-key", "/nonexistent.pem", "--key-id", "x"], "--public-key /nonexistent.pem is not a readable"),
        (["--key-id", "x"], "--public-key and --key-id go together"),
        (["--markets", "0"], "--markets must be at least 1"),
        (["--rate", "-5"], "--rate must be at least 0"),
        (["--whale-rate", "2"], "--whale-rate must be between 0 and 1"),
        (["--port", "99999"], "--port must be between 0 and 65535 (got 99999)"),
        (["--drop-every", "-1"], "--drop-every must be at least 0"),
    ],
)
def test_bad_options_are_a_clear_error(args: list[str], message: str):
    with pytest.raises(CommandError) as error:
        call_command("simulate_exchange", *args)
    assert message in str(error.value)


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=f"cannot listen on 127.0.0.1:{port}: .*address already in use"):
            call_command("simulate_exchange", "--host", "127.0.0.1", "--port", str(port))
