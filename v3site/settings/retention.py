"""The browsers' replay log (``RETENTION``, a trading.config.RetentionConfig)."""

from trading.config import RetentionConfig
from v3site.settings.environment import number

RETENTION = RetentionConfig(
    # ActivityEvent keeps this many seconds of events (and always the newest of each
    # type), pruned every ACTIVITY_PRUNE_INTERVAL (trading.retention).
    activity_retention=number("ACTIVITY_RETENTION", 7 * 86_400.0),
    prune_interval=number("ACTIVITY_PRUNE_INTERVAL", 3_600.0),
)
