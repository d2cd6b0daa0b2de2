"""`manage.py run_all` in the embedded default (no Postgres, no Redis): one process
serves the login page, a logged-in browser's WebSocket receives the feed's events, and
an order the last run left resting, which the new simulator never saw, is reconciled."""

import asyncio
import os
import signal
import socket
import sys
import tempfile
from pathlib import Path

import httpx
import orjson
import pytest
import websockets
from django.conf import settings
from django.core.management import CommandError, call_command

from tests.browser.server import embedded_env, free_port
from tests.trading.feed.harness import WAIT


async def _manage(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        *args,
        cwd=settings.BASE_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _get_until_up(client: httpx.AsyncClient, path: str) -> httpx.Response:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT * 3
    while True:
        try:
            return await client.get(path)
        except httpx.TransportError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.2)


# An order of an earlier run: the simulator of this run starts empty and does not know it.
LEFT_OVER = (
    "from trading.models import Order; Order.objects.create(client_order_id='left-over', exchange_order_id='gone-1',"
    " market_ticker='M', side='bid', price=5000, count=100, status='resting', mode='paper')"
)
STATUS = "from trading.models import Order; print(Order.objects.get(client_order_id='left-over').status)"


async def test_run_all_serves_login_and_events_in_one_process():
    data_dir = Path(tempfile.mkdtemp(prefix="v3-run-all-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="v3site.settings",
        V3_DATA_DIR=str(data_dir),
        SIM_PORT=str(free_port()),
        FEED_STATUS_INTERVAL="1",
    )
    for command in (("migrate", "-v0"), ("ensure_demo_user",), ("shell", "-v0", "-c", LEFT_OVER)):
        setup = await _manage(env, *command)
        assert await setup.wait() == 0, (await setup.stdout.read()).decode()
    port = free_port()
    server = await _manage(env, "run_all", "--port", str(port), "--sim-rate", "50")
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            login = await _get_until_up(client, "/login/")
            assert login.status_code == 200 and 'name="username"' in login.text
            password = (data_dir / "demo_password").read_text().strip()
            response = await client.post(
                "/login/",
                data={"username": "demo", "password": password, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                headers={"Referer": f"{base}/login/"},
            )
            assert response.status_code == 302
            cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/events/", additional_headers={"Cookie": cookie, "Origin": base}
        ) as ws:
            seen: set[str] = set()
            reconciled = False
            async with asyncio.timeout(WAIT * 2):
                while "trader_status" not in seen or not reconciled:
                    body = orjson.loads(await ws.recv())
                    seen.add(body["type"])
                    if body["type"] == "trader_status":
                        assert body["data"]["state"] in ("ready", "trading")
                        assert body["data"]["exchange_connected"] is True
                    received = body["data"]["events"] if body["type"] == "history_replay" else [body]
                    reconciled |= any(
                        e["type"] == "system_activity" and e["data"]["message"].startswith("Reconciliation:")
                        for e in received
                    )
            assert {"connection", "history_replay"} <= seen
    finally:
        server.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(server.stdout.read(), WAIT * 2)).decode()
        assert await server.wait() == 0, output
    assert "state trading -> shutdown: SIGTERM" in output or "-> shutdown: SIGTERM" in output
    status = await _manage(env, "shell", "-v0", "-c", STATUS)
    assert (await status.stdout.read()).decode().strip() == "canceled"


def test_run_all_refuses_the_simulators_port_before_starting_anything():
    with pytest.raises(CommandError, match="simulator's port"):
        call_command("run_all", "--port", str(settings.KALSHI.sim_port))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "--port must be between 1 and 65535 (got 99999)"),
        (["--count", "0"], "--count must be at least 1"),
        (["--sim-markets", "0"], "--sim-markets must be at least 1"),
        (["--whale-rate", "1.5"], "--whale-rate must be between 0 and 1"),
    ],
)
def test_run_all_refuses_out_of_range_options(args: list[str], message: str):
    with pytest.raises(CommandError) as error:
        call_command("run_all", *args)
    assert message in str(error.value)


async def test_run_all_exits_1_with_one_line_when_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = await _manage(embedded_env(tmp_path), "run_all", "--port", str(port))
        output = (await asyncio.wait_for(server.communicate(), WAIT * 6))[0].decode()
    assert server.returncode == 1, output
    assert "Traceback" not in output
    last = output.strip().splitlines()[-1]
    assert last == f"CommandError: the web server cannot listen on 127.0.0.1:{port} (is another process using it?)"


def test_demo_markets_live_a_few_minutes_and_stay_followable(settings):
    from dataclasses import replace

    from trading.feed.embedded import DEMO_MARKET_LIFETIME, default_sim_config, demo_rules

    settings.KALSHI = replace(settings.KALSHI, sim_market_lifetime=None)
    assert default_sim_config(markets=4, rate=1, whale_rate=0).market_lifetime_s == DEMO_MARKET_LIFETIME
    settings.KALSHI = replace(settings.KALSHI, sim_market_lifetime=0.0)
    assert default_sim_config(markets=4, rate=1, whale_rate=0).market_lifetime_s == 0
    rules = settings.EXECUTION.rules
    assert rules.min_time_to_close == 900
    assert demo_rules(rules, DEMO_MARKET_LIFETIME).min_time_to_close == DEMO_MARKET_LIFETIME / 5
    assert demo_rules(rules, 0) is rules
    assert demo_rules(replace(rules, min_time_to_close=10), DEMO_MARKET_LIFETIME).min_time_to_close == 10
