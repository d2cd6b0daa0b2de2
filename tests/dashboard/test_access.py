"""Who may see what: pages, JSON endpoints and the events WebSocket."""

import os
import re

import orjson
import pytest
from channels.layers import get_channel_layer
from django.db import connection

from dashboard.consumers import CLOSE_UNAUTHENTICATED
from tests.configs import configure
from tests.websocket import events_socket
from trading import events

pytestmark = pytest.mark.django_db


def test_anonymous_dashboard_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_login_page_serves_form_and_local_assets(client):
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and 'name="password"' in body
    assert "http://" not in body and "https://" not in body, "no CDN or outside asset"


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][0].endswith("favicon.svg")


def test_logged_in_user_sees_dashboard(client, user):
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert b'id="dashboard"' in response.content
    body = response.content.decode()
    assert "http://" not in body and "https://" not in body, "no CDN or outside asset"


def test_healthz_says_ok_and_nothing_else(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_api_status_requires_login(client, user):
    assert client.get("/api/status").status_code == 401
    client.force_login(user)
    response = client.get("/api/status")
    assert response.status_code == 200
    components = {c["name"]: c for c in response.json()["components"]}
    assert "database" in components
    assert re.fullmatch(rf"\d+ open in web process {os.getpid()}", components["browser_sockets"]["detail"])


def test_api_status_shows_storage_and_retention(client, user, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "key").write_bytes(b"k" * 1000)
    (tmp_path / "v3trader.sqlite3").write_bytes(b"d" * 24)
    configure(settings, "RETENTION", activity_retention=3600.0)
    client.force_login(user)
    storage = client.get("/api/status").json()["storage"]
    assert storage["data_dir_bytes"] == 1024
    assert storage["activity_retention_s"] == 3600.0
    assert storage["replay_log_events"] >= 0
    if connection.vendor == "postgresql":
        assert storage["database_bytes"] > 0
    else:
        assert storage["database_bytes"] is None, "SQLite's file is in the data folder"


@pytest.mark.parametrize(
    ("overrides", "orders_to"),
    [
        (
            {"env": "sim", "trading_mode": "paper", "api_url": "http://127.0.0.1:8799/trade-api/v2"},
            "127.0.0.1:8799",
        ),
        ({"env": "demo", "trading_mode": "live", "api_url": ""}, "external-api.demo.kalshi.co"),
        ({"env": "demo", "trading_mode": "paper", "api_url": ""}, None),
        (
            {
                "env": "demo",
                "trading_mode": "live",
                "api_url": "https://key:hunter2@demo-api.kalshi.co/v2",
            },
            "demo-api.kalshi.co",
        ),
    ],
)
def test_status_bar_and_api_status_show_where_orders_go(client, user, settings, overrides, orders_to):
    configure(settings, "KALSHI", **overrides)
    client.force_login(user)

    trading = client.get("/api/status").json()["trading"]
    page = client.get("/").content.decode()

    assert trading == {"mode": overrides["trading_mode"], "kalshi_env": overrides["env"], "orders_to": orders_to}
    shown = re.search(r'id="orders-to"[^>]*>orders to: <b>([^<]*)</b>', page).group(1)
    assert shown == (orders_to or "none (paper fills against the book)")
    assert "hunter2" not in page


@pytest.mark.parametrize("path", ["/login/", "/", "/admin/", "/admin/trading/whaledecision/", "/no-such-page/"])
def test_every_html_page_carries_a_strict_content_security_policy(client, django_user_model, path):
    client.force_login(django_user_model.objects.create_superuser(username="boss", password="pw-not-used"))
    response = client.get(path)
    assert response["Content-Type"].startswith("text/html")
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]


@pytest.mark.django_db(transaction=True)
async def test_anonymous_websocket_closes_with_4401():
    socket = events_socket()
    connected, code = await socket.connect()
    assert not connected
    assert code == CLOSE_UNAUTHENTICATED == 4401


@pytest.mark.django_db(transaction=True)
async def test_websocket_of_ended_session_closes_with_4401(user, session_cookie, client):
    """Logged out, or the password changed since: the cookie opens nothing."""
    from asgiref.sync import sync_to_async

    logged_out = await sync_to_async(session_cookie)(user)
    await sync_to_async(client.logout)()
    stale = await sync_to_async(session_cookie)(user)
    user.set_password("changed")
    await user.asave()
    for cookie in (logged_out, stale):
        connected, code = await events_socket(cookie=cookie).connect()
        assert (connected, code) == (False, CLOSE_UNAUTHENTICATED)


@pytest.mark.django_db(transaction=True)
async def test_cross_origin_websocket_handshake_is_refused(user, session_cookie):
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(user)
    socket = events_socket(cookie=cookie, origin=b"http://evil.example")
    connected, _ = await socket.connect()
    assert not connected


@pytest.mark.needs_redis
@pytest.mark.django_db(transaction=True)
async def test_logged_in_websocket_receives_broadcast_byte_for_byte(user, session_cookie):
    from asgiref.sync import sync_to_async
    from django.conf import settings

    assert settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"), "the real Redis layer"
    cookie = await sync_to_async(session_cookie)(user)
    socket = events_socket(cookie=cookie)
    connected, _ = await socket.connect()
    assert connected
    assert [orjson.loads(await socket.receive_from(timeout=5))["type"] for _ in range(2)] == [
        events.CONNECTION,
        events.HISTORY_REPLAY,
    ]
    text = events.envelope(events.SYSTEM_ACTIVITY, {"message": "héllo ☃", "n": 1}, event_id=42, ts=1795532400.25)
    await get_channel_layer().group_send(events.EVENTS_GROUP, events.group_message(text))
    assert await socket.receive_from(timeout=5) == text
    await socket.disconnect()


def handshake(origin: str, host: str = "127.0.0.1:8000", scheme: str = "ws") -> dict:
    return {"type": "websocket", "scheme": scheme, "headers": [(b"origin", origin.encode()), (b"host", host.encode())]}


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", False),  # another service on the same host
        ("http://127.0.0.1", "127.0.0.1:8000", "ws", False),
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", False),  # another scheme
        ("https://localhost", "localhost", "wss", True),
        ("https://localhost:443", "localhost", "wss", True),  # the default port, written out
        ("http://localhost", "localhost", "wss", False),
        ("http://LOCALHOST:8000", "localhost:8000", "ws", True),
        ("http://evil.example:8000", "127.0.0.1:8000", "ws", False),
        ("http://evil.example", "evil.example", "ws", False),  # a host not in ALLOWED_HOSTS
        ("null", "127.0.0.1:8000", "ws", False),
        ("http://127.0.0.1:notaport", "127.0.0.1:8000", "ws", False),
        ("", "127.0.0.1:8000", "ws", False),
    ],
)
def test_origin_must_match_scheme_host_and_port(origin, host, scheme, allowed):
    from dashboard.origin import allowed_origin

    assert allowed_origin(handshake(origin, host, scheme)) is allowed


def test_an_origin_in_csrf_trusted_origins_is_allowed(settings):
    """A proxy that terminates TLS: the socket arrives as ws:// but the page was https://."""
    from dashboard.origin import allowed_origin

    assert not allowed_origin(handshake("https://trader.localhost", "localhost"))
    settings.CSRF_TRUSTED_ORIGINS = ["https://trader.localhost"]
    assert allowed_origin(handshake("https://trader.localhost", "localhost"))


@pytest.mark.needs_redis
@pytest.mark.django_db(transaction=True)
async def test_websocket_from_another_port_of_the_same_host_is_refused(user, session_cookie):
    from asgiref.sync import sync_to_async

    cookie = await sync_to_async(session_cookie)(user)
    refused = events_socket(cookie=cookie, origin=b"http://localhost:9999", host=b"localhost:8000")
    assert (await refused.connect())[0] is False
    same = events_socket(cookie=cookie, origin=b"http://localhost:8000", host=b"localhost:8000")
    assert (await same.connect())[0] is True
    await same.disconnect()


def test_behind_a_tls_proxy_the_scheme_comes_from_secure_proxy_ssl_header(settings):
    """daphne's WebSocket scope has no scheme: an https page is told by the proxy's header."""
    from dashboard.origin import allowed_origin

    scope = {
        "type": "websocket",
        "headers": [(b"origin", b"https://localhost"), (b"host", b"localhost"), (b"x-forwarded-proto", b"https")],
    }
    assert not allowed_origin(scope)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert allowed_origin(scope)
    scope["headers"][2] = (b"x-forwarded-proto", b"http")
    assert not allowed_origin(scope)
