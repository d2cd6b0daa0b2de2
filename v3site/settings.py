"""V3 Trader settings, read from the environment in one place.

Two shapes, chosen by the environment alone:

* embedded default (no ``DATABASE_URL``, no ``REDIS_URL``): SQLite in the data
  folder, the in-memory channel layer, Celery tasks run in-process, a secret key
  generated once and kept in the data folder. One process runs everything.
* services (``DATABASE_URL=postgres://...``, ``REDIS_URL=redis://...``):
  Postgres, the Redis channel layer, Redis as Celery broker and result store.

With ``DEBUG`` off a missing ``SECRET_KEY`` or ``ALLOWED_HOSTS`` in the services
shape stops start-up with a clear error instead of falling back to a default.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from trading.private_files import create_private_file, make_private_dir

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("V3_DATA_DIR", default=str(BASE_DIR / "data")))
make_private_dir(DATA_DIR)

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL


def _secret_key() -> str:
    """The key comes from SECRET_KEY, or the file SECRET_KEY_FILE names; only the
    embedded default may make one up, and it keeps it so sessions survive restarts."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    if key_file := env.str("SECRET_KEY_FILE", default=""):
        try:
            return Path(key_file).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"SECRET_KEY_FILE={key_file} cannot be read: {exc.strerror}") from exc
    if EMBEDDED or DEBUG:
        path = DATA_DIR / "secret_key"
        create_private_file(path, secrets.token_urlsafe(50).encode())
        return path.read_text().strip()
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set SECRET_KEY (or SECRET_KEY_FILE naming a file that holds it); "
        "only the embedded default (no DATABASE_URL, no REDIS_URL) generates one."
    )


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    if EMBEDDED or DEBUG:
        ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
    else:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS is not set. Set ALLOWED_HOSTS to the comma-separated host names "
            "this site is served under (e.g. ALLOWED_HOSTS=trader.example.com)."
        )
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "csp",
    "trading",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so static files (the SVG favicon too) carry the policy.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "v3site.urls"
ASGI_APPLICATION = "v3site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if DATABASE_URL:
    DATABASES = {"default": env.db_url("DATABASE_URL")}
else:
    # SQLite would create the file with the umask's mode (often world-readable): an
    # empty file is a valid database, so it is made private first.
    create_private_file(DATA_DIR / "v3trader.sqlite3", b"")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "v3trader.sqlite3",
            # The embedded default shares one file between the web, feed and task
            # threads: wait for the lock instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
# Postgres connections are kept for a minute: daphne's database thread, the feed's
# threads and the workers otherwise connect for every request, consumer call or task
# (a new backend costs ~10 ms of CPU; browsers reconnecting after a restart wait on it
# one by one). Health checks replace one a database restart broke. SQLite, one file
# in this process, gains nothing from it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60 if DATABASE_URL else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Scopes this deployment's names in Redis: pub/sub channels (which Redis shares
# across databases) and the per-user socket counts (dashboard.presence).
CHANNELS_PREFIX = env.str("CHANNELS_PREFIX", default="asgi")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: one Redis message per group send whatever the number of
            # browsers (the core layer writes one copy per member, channels_redis#98).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": CHANNELS_PREFIX},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # 12, not Django's 8: OWASP ASVS level 2 (2.1.1) for a login that moves money.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes): the lockout check runs first, before any password
# is hashed, so a locked-out guess costs nothing and learns nothing. Counted per
# username and address together, so a guesser cannot lock other people out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# 5 failures within 15 minutes lock that username from that address for 15 minutes
# (OWASP's guidance: few enough to stop guessing, enough for a person's typos); the
# lock runs from the last counted failure, and attempts while locked do not extend it.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Failures are logged with the username and address (axes masks both by default):
# an operator needs them to see who is guessed at and from where. Passwords are
# always masked.
AXES_SENSITIVE_PARAMETERS: list[str] = []
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the source folders: no collectstatic step, no CDN.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# HTTPS from one switch, for a site behind a TLS-terminating reverse proxy (README,
# "TLS and a reverse proxy"). Off by default: the embedded default serves plain
# HTTP on 127.0.0.1, where secure cookies would never be sent back.
V3_HTTPS = env.bool("V3_HTTPS", default=False)
if V3_HTTPS:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    # Load balancers probe liveness over plain HTTP from inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    # The proxy tells Django a request came in over TLS; it must set (never pass on) this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # A year, what the HSTS preload list asks for; browsers then refuse plain HTTP to
    # this host (and its subdomains) for that long, so lower it while trying TLS out.
    SECURE_HSTS_SECONDS = env.int("V3_HSTS_SECONDS", default=365 * 86_400)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp) on every response: nothing but this origin's
# own files, and no inline script or style anywhere (the pages and the Django admin
# need none), so injected markup cannot run. connect-src 'self' covers the
# dashboard's same-origin WebSocket (ws:/wss:).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
    }
}

# Celery: Redis in the services shape; in the embedded default tasks run eagerly
# in the calling process, since nothing else would pick them up.
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose worker died runs again within a minute. acks_late keeps a running
# task's message in Redis ("unacked") until it ends; with kombu's defaults one left by
# a killed worker came back only after its visibility timeout of an hour (swept every
# 10 x 10 s), long after its whale stopped being a signal. Two paths now:
# - a pool process that dies (SIGKILL, OOM) is seen by its worker, which puts the
#   message back at once (reject_on_worker_lost). The price, a task that kills its
#   process every time would loop, is acceptable: ours are idempotent and end.
# - a whole worker that dies leaves the message unacked; any live worker puts it
#   back once it is older than the visibility timeout, checking every 5 s.
# The visibility timeout must outlast the longest a live worker holds a message,
# or a running task would be delivered twice: the 30 s hard limit on a task (a
# placement waiting on an unreachable exchange is killed there, its order stays
# pending for the retry or reconciliation) plus the longest retry countdown a
# worker waits out before running it (15 s, trading.tasks.place_order): 50 s.
# A message abandoned by a dead worker therefore runs again within 55 s.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TIME_LIMIT = 30
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 50,
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,  # sweep on every interval, not every 10th
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every Celery key in Redis (queues, bindings, results) starts with this, so that
# deployments, or a test run, can share one Redis database without touching each
# other's keys (CHANNELS_PREFIX does the same for the channel layer).
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="")
if REDIS_KEY_PREFIX:
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
# Celery closes a worker's database connection before and after every task unless
# this is set (whatever CONN_MAX_AGE says): a new Postgres connection per task cost
# ~10 ms of CPU, two per whale, and kept the decisions benchmark from its target
# (bench/README.md "decisions"). With it the connection is kept and closed every
# 100 tasks; trading.tasks checks it around each task as Django does around requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=100)

# Kalshi. KALSHI_ENV picks the hosts (trading.kalshi.environments); the URL
# settings override them. Keys come from the environment or files named there.
KALSHI_ENV = env.str("KALSHI_ENV", default="sim")
if KALSHI_ENV not in ("sim", "demo", "prod"):
    raise ImproperlyConfigured(f"KALSHI_ENV={KALSHI_ENV!r} is not one of sim, demo, prod.")
KALSHI_API_URL = env.str("KALSHI_API_URL", default="")
KALSHI_WS_URL = env.str("KALSHI_WS_URL", default="")
KALSHI_API_KEY_ID = env.str("KALSHI_API_KEY_ID", default="")
KALSHI_PRIVATE_KEY_PATH = env.str("KALSHI_PRIVATE_KEY_PATH", default="")
# Where the simulator keeps the key pair it generates for KALSHI_ENV=sim.
SIM_DIR = DATA_DIR / "sim"
SIM_HOST = env.str("SIM_HOST", default="127.0.0.1")
SIM_PORT = env.int("SIM_PORT", default=8765)

# Trading mode: paper unless live is asked for explicitly (and, on prod, allowed).
TRADING_MODE = env.str("TRADING_MODE", default="paper")
if TRADING_MODE not in ("paper", "live"):
    raise ImproperlyConfigured(f"TRADING_MODE={TRADING_MODE!r} is not one of paper, live.")
V3_ALLOW_PROD = env.bool("V3_ALLOW_PROD", default=False)

# Whale execution (issue 5, trading.execution): decision rules, risk limits,
# reconciliation. Read here once; trading.execution.rules.RuleConfig and
# trading.execution.risk.RiskLimits turn them into typed objects. Dollar and
# contract amounts are decimal strings (as on Kalshi's wire) parsed into
# trading.units integers; a bad value stops start-up naming the variable.
if TRADING_MODE == "live" and KALSHI_ENV == "prod" and not V3_ALLOW_PROD:
    raise ImproperlyConfigured(
        "TRADING_MODE=live with KALSHI_ENV=prod places real-money orders: set V3_ALLOW_PROD=1 to allow it, "
        "or use TRADING_MODE=paper."
    )
if TRADING_MODE == "live" and KALSHI_ENV != "sim" and not (KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH):
    raise ImproperlyConfigured(
        f"TRADING_MODE=live on KALSHI_ENV={KALSHI_ENV} needs KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH."
    )


def _check_kalshi_destinations() -> None:
    """KALSHI_ENV is only a label unless the URL overrides agree with it (trading.kalshi.hosts)."""
    from trading.kalshi.hosts import DestinationError, check_destinations

    try:
        check_destinations(
            kalshi_env=KALSHI_ENV,
            trading_mode=TRADING_MODE,
            allow_prod=V3_ALLOW_PROD,
            sim_host=SIM_HOST,
            urls={"KALSHI_API_URL": KALSHI_API_URL, "KALSHI_WS_URL": KALSHI_WS_URL},
        )
    except DestinationError as exc:
        raise ImproperlyConfigured(str(exc)) from None


_check_kalshi_destinations()


def _exec_units(name: str, default: str, kind: str) -> int:
    from trading import units

    parse = {"money": units.parse_money, "price": units.parse_price, "count": units.parse_count}[kind]
    text = env.str(name, default=default)
    try:
        return parse(text)
    except units.UnitError as exc:
        raise ImproperlyConfigured(f"{name}={text!r}: {exc}") from None


# Rules. Whales under this notional (dollars, at the taker's price) are not worth
# a follow: below_threshold. The feed's whale threshold may be lower (it shows more).
EXEC_MIN_WHALE_NOTIONAL = _exec_units("EXEC_MIN_WHALE_NOTIONAL", "1000", "money")
# Widest YES spread (dollars) we trade into: a wide book means the whale moved it
# and our fill would be far from fair value: spread_too_wide.
EXEC_MAX_SPREAD = _exec_units("EXEC_MAX_SPREAD", "0.05", "price")
# Markets closing sooner than this (seconds) are skipped: market_closing. Close
# to expiry, prices jump on news and resting orders may be left at the close.
EXEC_MIN_TIME_TO_CLOSE = env.int("EXEC_MIN_TIME_TO_CLOSE", default=900)
# At most one follow per market per this many seconds: cooldown (whales come in
# bursts; following each one would stack the same bet).
EXEC_COOLDOWN = env.int("EXEC_COOLDOWN", default=60)
# Size: "fixed" = EXEC_FIXED_COUNT contracts; "fraction" = EXEC_WHALE_FRACTION of the
# whale's count; either way capped at EXEC_MAX_COUNT contracts.
EXEC_SIZE_MODE = env.str("EXEC_SIZE_MODE", default="fixed")
if EXEC_SIZE_MODE not in ("fixed", "fraction"):
    raise ImproperlyConfigured(f"EXEC_SIZE_MODE={EXEC_SIZE_MODE!r} is not one of fixed, fraction.")
EXEC_FIXED_COUNT = _exec_units("EXEC_FIXED_COUNT", "10", "count")
# Parts per million of the whale (10000 = 1%), an integer so sizing stays exact.
EXEC_WHALE_FRACTION_PPM = env.int("EXEC_WHALE_FRACTION_PPM", default=10_000)
EXEC_MAX_COUNT = _exec_units("EXEC_MAX_COUNT", "100", "count")
# Limit price = the whale's price (on the side it bought) + this slippage, but
# never more than EXEC_MAX_CROSS beyond the current best ask of that side, so a
# stale whale price never makes us sweep the book.
EXEC_SLIPPAGE = _exec_units("EXEC_SLIPPAGE", "0.01", "price")
EXEC_MAX_CROSS = _exec_units("EXEC_MAX_CROSS", "0.02", "price")
# A book older than this (seconds) is stale: stale_book. The worker reads the
# book from REST (it has no WebSocket); the age counts from when the request was
# sent (see trading.execution.gateway for the edge-cache caveat on demo/prod).
EXEC_MAX_BOOK_AGE = env.float("EXEC_MAX_BOOK_AGE", default=3.0)
# A whale that traded longer ago than this (seconds) is no longer a signal:
# whale_too_old (a backlog after an outage is decided, not followed blindly).
EXEC_MAX_WHALE_AGE = env.float("EXEC_MAX_WHALE_AGE", default=30.0)
# Follow orders rest this long (seconds) and then expire on the exchange;
# 0 = immediate_or_cancel (take what is there now, never rest).
EXEC_ORDER_TTL = env.int("EXEC_ORDER_TTL", default=300)

# Risk limits, checked in one transaction holding the RiskAccount row lock.
# Contracts per market (open position plus resting orders, either side): position_limit.
EXEC_MAX_POSITION = _exec_units("EXEC_MAX_POSITION", "500", "count")
# Dollars at risk across all markets (cost of positions plus resting orders): exposure_limit.
EXEC_MAX_EXPOSURE = _exec_units("EXEC_MAX_EXPOSURE", "2500", "money")
# Resting or unacknowledged orders at once: open_orders_limit.
EXEC_MAX_OPEN_ORDERS = env.int("EXEC_MAX_OPEN_ORDERS", default=10)
# New orders in any 60 s: rate_limit. Far under Kalshi's Basic write budget
# (10 creates/s), so a runaway loop is stopped by us, not by 429s.
EXEC_MAX_ORDERS_PER_MINUTE = env.int("EXEC_MAX_ORDERS_PER_MINUTE", default=6)
# Realized loss net of fees since 00:00 UTC (dollars) that stops new orders: daily_loss_limit.
EXEC_MAX_DAILY_LOSS = _exec_units("EXEC_MAX_DAILY_LOSS", "250", "money")
# Starting balance (dollars) of paper trading against the live book copy
# (TRADING_MODE=paper on demo/prod), where no exchange account holds our money.
EXEC_PAPER_BALANCE = _exec_units("EXEC_PAPER_BALANCE", "10000", "money")

# Reconciliation with the exchange: every this many seconds (Celery beat), and at
# worker start-up. A local order still unacknowledged after EXEC_PENDING_GRACE
# seconds is looked up on the exchange: adopted if there, else sent again while its
# decision is fresh (EXEC_DECISION_TTL below).
EXEC_RECONCILE_INTERVAL = env.float("EXEC_RECONCILE_INTERVAL", default=60.0)
EXEC_PENDING_GRACE = env.float("EXEC_PENDING_GRACE", default=30.0)
# A follow order not yet on the exchange this long (seconds) after its decision is
# no longer sent (its limit was set against that moment's book) and is rejected as
# decision_expired. 90 s: a placement cut short by a killed worker runs again within
# 55 s (CELERY_BROKER_TRANSPORT_OPTIONS above) and may then retry for 30 s more
# (trading.tasks.place_order's backoff); it must still be fresh then.
EXEC_DECISION_TTL = env.float("EXEC_DECISION_TTL", default=90.0)
# The browsers' replay log (ActivityEvent) keeps this many seconds of events (and
# always the newest of each type), pruned every ACTIVITY_PRUNE_INTERVAL (trading.retention).
ACTIVITY_RETENTION = env.float("ACTIVITY_RETENTION", default=7 * 86_400.0)
ACTIVITY_PRUNE_INTERVAL = env.float("ACTIVITY_PRUNE_INTERVAL", default=3_600.0)
CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "trading.tasks.reconcile", "schedule": EXEC_RECONCILE_INTERVAL},
    "prune-activity": {"task": "trading.tasks.prune_activity", "schedule": ACTIVITY_PRUNE_INTERVAL},
}
# Decisions on the default queue, order placement on its own (see trading/tasks.py);
# a worker without -Q consumes both.
CELERY_TASK_QUEUES = (Queue("celery"), Queue("orders"))
CELERY_TASK_ROUTES = {"trading.tasks.place_order": {"queue": "orders"}}

# Dashboard (issue 6): the browsers' WebSocket. Seconds unless named otherwise.
# Application ping every 30 s (jittered +-10% so browsers do not synchronise);
# a browser that has not answered within the timeout is closed, which also
# bounds how far a slow reader can fall behind.
DASHBOARD_PING_INTERVAL = env.float("DASHBOARD_PING_INTERVAL", default=30.0)
DASHBOARD_PING_TIMEOUT = env.float("DASHBOARD_PING_TIMEOUT", default=20.0)
# Messages waiting to be written to one browser; beyond it the browser is closed
# (4409) and resumes by event id, except `market` events, where newest wins.
DASHBOARD_OUTBOX_LIMIT = env.int("DASHBOARD_OUTBOX_LIMIT", default=500)
# Commands from one browser: a burst of 10, then 2 a second.
DASHBOARD_COMMAND_BURST = env.int("DASHBOARD_COMMAND_BURST", default=10)
DASHBOARD_COMMAND_RATE = env.float("DASHBOARD_COMMAND_RATE", default=2.0)
# Every socket re-reads its session and user this often (jittered +-10%): the safety
# net behind the revocations that close sockets at once (dashboard.revocation), for
# what sends no signal (an expired session, raw SQL, a revocation lost while Redis
# was down). Two small queries per socket a minute; a revoked session lives on a
# socket at most this long.
DASHBOARD_SESSION_CHECK_INTERVAL = env.float("DASHBOARD_SESSION_CHECK_INTERVAL", default=60.0)
# Open dashboard sockets per user, counted across all web processes (Redis in the
# services shape): a tab is one socket, and 20 tabs is far past any real trader; more
# is a runaway script or a reconnect loop, refused with 4429.
WS_MAX_CONNECTIONS_PER_USER = env.int("WS_MAX_CONNECTIONS_PER_USER", default=20)
# Sessions (and the dashboard sockets opened with them) end this long after login,
# not Django's two weeks: a trading console left logged in on a shared machine
# should not be able to pause or kill trading a week later.
SESSION_MAX_AGE = env.int("SESSION_MAX_AGE", default=24 * 3600)
SESSION_COOKIE_AGE = SESSION_MAX_AGE

# Feed runner (issue 4, trading.feed, `manage.py run_feeds` / `run_all`). Seconds unless named otherwise.
# Markets to follow: explicit tickers (comma-separated), else the N most active open ones from REST.
V3_MARKETS = env.list("V3_MARKETS", default=[])
FEED_MARKET_COUNT = env.int("FEED_MARKET_COUNT", default=10)
# A trade is a whale when its notional (count x the taker side's price) reaches
# WHALE_MIN_NOTIONAL dollars, or is at least WHALE_RELATIVE_FACTOR x the market's
# rolling median trade notional (median of its last 200 trades, once it has 20).
WHALE_MIN_NOTIONAL = _exec_units("WHALE_MIN_NOTIONAL", "1000", "money")
WHALE_RELATIVE_FACTOR = env.float("WHALE_RELATIVE_FACTOR", default=20.0)
if WHALE_RELATIVE_FACTOR <= 1:
    raise ImproperlyConfigured(f"WHALE_RELATIVE_FACTOR={WHALE_RELATIVE_FACTOR} must be greater than 1.")
# A market with no snapshot yet counts as unhealthy only after this start-up grace.
FEED_STARTUP_GRACE = env.float("FEED_STARTUP_GRACE", default=20.0)
# Book feed unhealthy when no orderbook message arrived for this long (the
# simulator and busy Kalshi markets move every second; quiet ones may not).
FEED_BOOK_MAX_AGE = env.float("FEED_BOOK_MAX_AGE", default=60.0)
# Books unhealthy when the newest change applied is this much older than now by the
# exchange's own timestamp: the runner has fallen behind the feed (a busy machine, a
# burst), and deciding on seconds-old books is trading blind. Includes clock skew, so
# keep the host's clock synced (NTP); a few seconds is far above both.
FEED_BOOK_MAX_LAG = env.float("FEED_BOOK_MAX_LAG", default=5.0)
# Trade feed unhealthy when no trade message arrived for this long (issue 4: 5 min).
FEED_TRADE_MAX_AGE = env.float("FEED_TRADE_MAX_AGE", default=300.0)
# Coalesced `market` events per market per second (top of book, depth, last trades).
FEED_MARKET_EVENTS_PER_SECOND = env.float("FEED_MARKET_EVENTS_PER_SECOND", default=4.0)
FEED_STATUS_INTERVAL = env.float("FEED_STATUS_INTERVAL", default=10.0)
# The active runner writes a heartbeat this often; a web process reads a runner whose
# last beat is older than FEED_HEARTBEAT_TTL as down. 1 s beats and a 3 s expiry show a
# dead runner within 4 s (expiry plus one watch interval), inside the 5 s the status bar
# promises, while a beat delayed by one slow database write does not flap it.
FEED_HEARTBEAT_INTERVAL = env.float("FEED_HEARTBEAT_INTERVAL", default=1.0)
FEED_HEARTBEAT_TTL = env.float("FEED_HEARTBEAT_TTL", default=3.0)
if FEED_HEARTBEAT_TTL < 2 * FEED_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured("FEED_HEARTBEAT_TTL must be at least twice FEED_HEARTBEAT_INTERVAL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # Login failures and lockouts are warnings; axes' INFO lines are chatter (one per process start).
        "axes": {"level": "WARNING"},
    },
}
