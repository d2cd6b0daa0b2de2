"""Which hosts each ``KALSHI_ENV`` may talk to, checked by the settings before any
process starts.

``KALSHI_ENV`` alone is not a guard: ``KALSHI_ENV=sim`` with ``KALSHI_API_URL``
on Kalshi's production host would send "paper" orders to the real exchange. So
every URL override must be on loopback or on a host of the chosen environment
(PROTOCOL.md 1: the recommended and the also-supported host names), and orders
reach a production host only with ``TRADING_MODE=live`` and ``V3_ALLOW_PROD=1``.
"""

import ipaddress
from urllib.parse import urlsplit

# Recommended REST and WebSocket base URLs.
HOSTS: dict[str, tuple[str, str]] = {
    "prod": ("https://external-api.kalshi.com/trade-api/v2", "wss://external-api-ws.kalshi.com/trade-api/ws/v2"),
    "demo": (
        "https://external-api.demo.kalshi.co/trade-api/v2",
        "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
}
# Every host name Kalshi serves each environment under.
ENV_HOSTS: dict[str, frozenset[str]] = {
    "prod": frozenset({"external-api.kalshi.com", "external-api-ws.kalshi.com", "api.elections.kalshi.com"}),
    "demo": frozenset({"external-api.demo.kalshi.co", "external-api-ws.demo.kalshi.co", "demo-api.kalshi.co"}),
}
# Real-money Kalshi lives under kalshi.com (demo under kalshi.co): any name there,
# listed above or not (the retired trading-api.kalshi.com), counts as production.
PRODUCTION_DOMAIN = "kalshi.com"
KALSHI_DOMAINS = (PRODUCTION_DOMAIN, "kalshi.co")


class DestinationError(ValueError):
    """A Kalshi URL setting points somewhere its environment and mode do not allow; the message names it."""


def host_of(name: str, url: str) -> str:
    """The URL's host name, lower case, without a trailing dot."""
    try:
        host = urlsplit(url).hostname
    except ValueError as exc:
        raise DestinationError(f"{name}={url!r} is not a URL: {exc}.") from None
    if not host:
        raise DestinationError(f"{name}={url!r} has no host: give a full URL such as https://host/trade-api/v2.")
    return host.rstrip(".").lower()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith(f".{domain}")


def is_production(host: str) -> bool:
    return _under(host, PRODUCTION_DOMAIN)


def sends_orders(*, kalshi_env: str, trading_mode: str) -> bool:
    """Whether orders go to the exchange: live trading, or paper trading on the simulator
    (paper on demo/prod fills against a copy of the book and sends nothing)."""
    return trading_mode == "live" or kalshi_env == "sim"


def check_destinations(
    *, kalshi_env: str, trading_mode: str, allow_prod: bool, sim_host: str, urls: dict[str, str]
) -> None:
    """Refuse URL overrides (``urls``: setting name -> value, empty = not set) that leave
    ``kalshi_env``'s hosts, and orders to production without live mode and ``allow_prod``."""
    sim = sim_host.rstrip(".").lower()
    if any(_under(sim, domain) for domain in KALSHI_DOMAINS):
        raise DestinationError(f"SIM_HOST={sim_host} is one of Kalshi's hosts: the simulator runs on your machine.")
    allowed = ENV_HOSTS.get(kalshi_env, frozenset({sim}))
    for name, url in urls.items():
        if not url:
            continue
        host = host_of(name, url)
        carries_orders = name == "KALSHI_API_URL" and sends_orders(kalshi_env=kalshi_env, trading_mode=trading_mode)
        if carries_orders and is_production(host) and not (trading_mode == "live" and allow_prod):
            raise DestinationError(
                f"{name}={url} sends orders to Kalshi's production host {host}, where they are real money: "
                "that needs KALSHI_ENV=prod, TRADING_MODE=live and V3_ALLOW_PROD=1."
            )
        if not is_loopback(host) and host not in allowed:
            raise DestinationError(
                f"{name}={url}: {host} is not a KALSHI_ENV={kalshi_env} host "
                f"(allowed: loopback, {', '.join(sorted(allowed))}). Point it there, or change KALSHI_ENV."
            )
        if host in ENV_HOSTS.get(kalshi_env, ()) and urlsplit(url).scheme not in ("https", "wss"):
            raise DestinationError(f"{name}={url}: Kalshi's hosts are reached over TLS only (https://, wss://).")
