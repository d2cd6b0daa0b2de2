"""The web server and the browsers' WebSocket (dashboard.serving, dashboard.consumers):
pings, bounds and budgets (``DASHBOARD``, a trading.config.DashboardConfig). Seconds
unless named otherwise."""

from trading.config import DashboardConfig
from v3site.settings.environment import choice, integer, number

DASHBOARD = DashboardConfig(
    # The ASGI server of `manage.py serve`. uvicorn with its `websockets` protocol costs
    # 28 us of CPU per delivered message against daphne's 54 us on the same machine, and
    # its `send` waits when a browser stops reading, so the outbox bound holds (daphne
    # buffers without limit). daphne stays supported: `runserver` and `run_all` use it.
    server=choice("WEB_SERVER", "uvicorn", ("uvicorn", "daphne")),
    # Application ping every 30 s (jittered +-10% so browsers do not synchronise);
    # a browser that has not answered within the timeout is closed, which also
    # bounds how far a slow reader can fall behind.
    ping_interval=number("DASHBOARD_PING_INTERVAL", 30.0),
    ping_timeout=number("DASHBOARD_PING_TIMEOUT", 20.0),
    # Messages waiting to be written to one browser; beyond it the browser is closed
    # (4409) and resumes by event id, except `market` events, where newest wins.
    outbox_limit=integer("DASHBOARD_OUTBOX_LIMIT", 500),
    # Commands from one browser: a burst of 10, then 2 a second.
    command_burst=integer("DASHBOARD_COMMAND_BURST", 10),
    command_rate=number("DASHBOARD_COMMAND_RATE", 2.0),
    # Every socket re-reads its session and user this often (jittered +-10%): the safety
    # net behind the revocations that close sockets at once (dashboard.revocation), for
    # what sends no signal (an expired session, raw SQL, a revocation lost while Redis
    # was down). Two small queries per socket a minute; a revoked session lives on a
    # socket at most this long.
    session_check_interval=number("DASHBOARD_SESSION_CHECK_INTERVAL", 60.0),
    # Open dashboard sockets per user, counted across all web processes (Redis in the
    # services shape): a tab is one socket, and 20 tabs is far past any real trader; more
    # is a runaway script or a reconnect loop, refused with 4429.
    max_connections_per_user=integer("WS_MAX_CONNECTIONS_PER_USER", 20),
)
