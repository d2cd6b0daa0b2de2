"""Which Kalshi to talk to, with which key, and whether orders are real
(``KALSHI``, a trading.config.KalshiConfig). KALSHI_ENV picks the hosts
(trading.kalshi.environments); the URL settings override them, and no process
starts unless they agree with it. Keys come from the environment or files named
there."""

from django.core.exceptions import ImproperlyConfigured

from trading.config import KalshiConfig
from trading.kalshi.hosts import DestinationError, check_destinations
from v3site.settings.core import DATA_DIR
from v3site.settings.environment import choice, env, integer, number

_kalshi_env = choice("KALSHI_ENV", "sim", ("sim", "demo", "prod"))
_api_url = env.str("KALSHI_API_URL", default="")
_ws_url = env.str("KALSHI_WS_URL", default="")
_api_key_id = env.str("KALSHI_API_KEY_ID", default="")
_private_key_path = env.str("KALSHI_PRIVATE_KEY_PATH", default="")
_sim_host = env.str("SIM_HOST", default="127.0.0.1")

# Trading mode: paper unless live is asked for explicitly (and, on prod, allowed).
_trading_mode = choice("TRADING_MODE", "paper", ("paper", "live"))
_allow_prod = env.bool("V3_ALLOW_PROD", default=False)

if _trading_mode == "live" and _kalshi_env == "prod" and not _allow_prod:
    raise ImproperlyConfigured(
        "TRADING_MODE=live with KALSHI_ENV=prod places real-money orders: set V3_ALLOW_PROD=1 to allow it, "
        "or use TRADING_MODE=paper."
    )
if _trading_mode == "live" and _kalshi_env != "sim" and not (_api_key_id and _private_key_path):
    raise ImproperlyConfigured(
        f"TRADING_MODE=live on KALSHI_ENV={_kalshi_env} needs KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH."
    )
# KALSHI_ENV is only a label unless the URL overrides agree with it (trading.kalshi.hosts).
try:
    check_destinations(
        kalshi_env=_kalshi_env,
        trading_mode=_trading_mode,
        allow_prod=_allow_prod,
        sim_host=_sim_host,
        urls={"KALSHI_API_URL": _api_url, "KALSHI_WS_URL": _ws_url},
    )
except DestinationError as exc:
    raise ImproperlyConfigured(str(exc)) from None

# Unset, simulate_exchange keeps its markets open (a stable exchange for development and
# tests) and run_all gives them a few minutes (trading.feed.embedded), so a new user sees
# positions settle.
_sim_market_lifetime = number("SIM_MARKET_LIFETIME", 0.0) if "SIM_MARKET_LIFETIME" in env.ENVIRON else None
if _sim_market_lifetime is not None and _sim_market_lifetime < 0:
    raise ImproperlyConfigured(f"SIM_MARKET_LIFETIME={_sim_market_lifetime!r} must be 0 (off) or more seconds.")

KALSHI = KalshiConfig(
    env=_kalshi_env,
    api_url=_api_url,
    ws_url=_ws_url,
    api_key_id=_api_key_id,
    private_key_path=_private_key_path,
    # Where the simulator keeps the key pair it generates for KALSHI_ENV=sim.
    sim_dir=DATA_DIR / "sim",
    sim_host=_sim_host,
    sim_port=integer("SIM_PORT", 8765),
    trading_mode=_trading_mode,
    allow_prod=_allow_prod,
    sim_market_lifetime=_sim_market_lifetime,
)
