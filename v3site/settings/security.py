"""Who may reach the site and how: the secret key, hosts, logins (django-axes),
sessions, cookies, HTTPS behind a proxy and the Content-Security-Policy.

With ``DEBUG`` off a missing ``SECRET_KEY`` or ``ALLOWED_HOSTS`` in the services
shape stops start-up with a clear error instead of falling back to a default.
"""

import secrets
from datetime import timedelta
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from trading.private_files import create_private_file
from v3site.settings.core import DATA_DIR, DEBUG, EMBEDDED
from v3site.settings.environment import env, integer


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

# Sessions (and the dashboard sockets opened with them) end this long after login,
# not Django's two weeks: a trading console left logged in on a shared machine
# should not be able to pause or kill trading a week later.
SESSION_COOKIE_AGE = integer("SESSION_MAX_AGE", 24 * 3600)

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
    SECURE_HSTS_SECONDS = integer("V3_HSTS_SECONDS", 365 * 86_400)
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
