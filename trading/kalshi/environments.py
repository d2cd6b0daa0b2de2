"""Which Kalshi to talk to: ``KALSHI_ENV=sim|demo|prod`` picks the REST and WebSocket
base URLs (PROTOCOL.md 1, the recommended hosts); ``KALSHI_API_URL`` /
``KALSHI_WS_URL`` override them, and ``KALSHI_API_KEY_ID`` /
``KALSHI_PRIVATE_KEY_PATH`` name the key. With ``sim`` and no key configured,
the sim key pair in ``SIM_DIR`` is used (trading.kalshi.sim_keys, made on first use), so the
embedded default runs with nothing set.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from trading.kalshi.hosts import HOSTS, sends_orders
from trading.kalshi.signing import Signer
from trading.kalshi.sim_keys import ensure_sim_keys

REST_PATH = "/trade-api/v2"
WS_PATH = "/trade-api/ws/v2"


@dataclass(frozen=True)
class KalshiEndpoints:
    env: str
    rest_url: str
    ws_url: str
    signer: Signer


def sim_urls(host: str, port: int) -> tuple[str, str]:
    """The simulator's REST and WebSocket base URLs on ``host:port``."""
    return f"http://{host}:{port}{REST_PATH}", f"ws://{host}:{port}{WS_PATH}"


def base_urls() -> tuple[str, str]:
    """The REST and WebSocket base URLs the settings choose."""
    kalshi = settings.KALSHI
    rest_url, ws_url = sim_urls(kalshi.sim_host, kalshi.sim_port) if kalshi.env == "sim" else HOSTS[kalshi.env]
    return (kalshi.api_url or rest_url).rstrip("/"), (kalshi.ws_url or ws_url).rstrip("/")


def order_host() -> str | None:
    """``host[:port]`` of the exchange this process's orders go to (never the URL's
    user or password), or None when paper orders are filled locally against the book."""
    if not sends_orders(kalshi_env=settings.KALSHI.env, trading_mode=settings.KALSHI.trading_mode):
        return None
    url = urlsplit(base_urls()[0])
    return f"{url.hostname}:{url.port}" if url.port else url.hostname


def kalshi_endpoints() -> KalshiEndpoints:
    """Base URLs and signer from settings; ``SigningKeyError`` names the setting that is missing or unreadable."""
    kalshi = settings.KALSHI
    rest_url, ws_url = base_urls()
    key_id, key_path = kalshi.api_key_id, kalshi.private_key_path
    if kalshi.env == "sim" and not key_id and not key_path:
        keys = ensure_sim_keys(kalshi.sim_dir)
        key_id, key_path = keys.key_id, str(keys.private_key_path)
    return KalshiEndpoints(kalshi.env, rest_url, ws_url, Signer.from_files(key_id, key_path))
