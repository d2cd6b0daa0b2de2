"""V3 Trader settings, read from the environment in one place and validated at
start-up: a bad value stops every process with ``ImproperlyConfigured`` naming
the variable (v3site.settings.environment).

Two shapes, chosen by the environment alone:

* embedded default (no ``DATABASE_URL``, no ``REDIS_URL``): SQLite in the data
  folder, the in-memory channel layer, Celery tasks run in-process, a secret key
  generated once and kept in the data folder. One process runs everything.
* services (``DATABASE_URL=postgres://...``, ``REDIS_URL=redis://...``):
  Postgres, the Redis channel layer, Redis as Celery broker and result store.

One module per area. Django's and Celery's own settings keep the names they
expect; each of the project's areas is one frozen typed object (trading.config)
that the rest of the code takes: ``KALSHI``, ``EXECUTION``, ``FEED``,
``DASHBOARD``, ``RETENTION``, ``OPERATIONS``.
"""

from v3site.settings.core import *  # noqa: F403
from v3site.settings.dashboard import *  # noqa: F403
from v3site.settings.execution import *  # noqa: F403
from v3site.settings.feed import *  # noqa: F403
from v3site.settings.kalshi import *  # noqa: F403
from v3site.settings.operations import *  # noqa: F403
from v3site.settings.retention import *  # noqa: F403
from v3site.settings.security import *  # noqa: F403
from v3site.settings.services import *  # noqa: F403
