"""The services around Django: the channel layer and Celery, on Redis in the
services shape and in this process in the embedded default (core's docstring)."""

from kombu import Queue

from v3site.settings.core import REDIS_URL
from v3site.settings.environment import env, integer
from v3site.settings.execution import EXECUTION
from v3site.settings.retention import RETENTION

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

# Caches: Django's default in this process; "market_history" (trading.feed.price_history)
# where the feed runner leaves each market's recent prices for every web process, so
# Redis in the services shape (under CHANNELS_PREFIX, like the layer's names).
_MARKET_HISTORY = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": CHANNELS_PREFIX}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "market-history"}
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "market_history": _MARKET_HISTORY,
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
    # Added to the options above, not in their place: without the visibility timeout a
    # task whose worker died would wait kombu's hour before it ran again.
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": REDIS_KEY_PREFIX}
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": REDIS_KEY_PREFIX}
# Celery closes a worker's database connection before and after every task unless
# this is set (whatever CONN_MAX_AGE says): a new Postgres connection per task cost
# ~10 ms of CPU, two per whale, and kept the decisions benchmark from its target
# (bench/README.md "decisions"). With it the connection is kept and closed every
# 100 tasks; trading.tasks checks it around each task as Django does around requests.
CELERY_DB_REUSE_MAX = integer("CELERY_DB_REUSE_MAX", 100)

CELERY_BEAT_SCHEDULE = {
    "reconcile": {"task": "trading.tasks.reconcile", "schedule": EXECUTION.reconcile_interval},
    "prune-activity": {"task": "trading.tasks.prune_activity", "schedule": RETENTION.prune_interval},
    "fill-outcomes": {"task": "trading.tasks.fill_outcomes", "schedule": EXECUTION.outcome_interval},
}

# Decisions on the default queue, order placement on its own (see trading/tasks.py);
# a worker without -Q consumes both.
CELERY_TASK_QUEUES = (Queue("celery"), Queue("orders"))
CELERY_TASK_ROUTES = {"trading.tasks.place_order": {"queue": "orders"}}
