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
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("V3_DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

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
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
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
    "trading",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "v3trader.sqlite3",
            # The embedded default shares one file between the web, feed and task
            # threads: wait for the lock instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: one Redis message per group send whatever the number of
            # browsers (the core layer writes one copy per member, channels_redis#98).
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # The prefix scopes pub/sub channels, which Redis shares across databases.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNELS_PREFIX", default="asgi")},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
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

# Celery: Redis in the services shape; in the embedded default tasks run eagerly
# in the calling process, since nothing else would pick them up.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
