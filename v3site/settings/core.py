"""Django itself: paths, apps, middleware, templates, the database, static files
and logging. The data folder is made here, private, before anything writes to it."""

from pathlib import Path

from trading.private_files import create_private_file, make_private_dir
from v3site.settings.environment import env, integer

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("V3_DATA_DIR", default=str(BASE_DIR / "data")))
make_private_dir(DATA_DIR)

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
EMBEDDED = not DATABASE_URL and not REDIS_URL

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
DATABASES["default"]["CONN_MAX_AGE"] = integer("CONN_MAX_AGE", 60 if DATABASE_URL else 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
        # One INFO line per REST request is chatter: the outcome filler alone reads every market with
        # whales in flight every few seconds. Failures are logged by the REST client itself.
        "httpx": {"level": "WARNING"},
    },
}
