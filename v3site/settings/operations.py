"""What an operator watches the system with (``OPERATIONS``, a
trading.config.OperationsConfig): the alert webhook and the metrics endpoint."""

from trading.config import OperationsConfig
from v3site.settings.environment import env, number

OPERATIONS = OperationsConfig(
    # A JSON POST with a Slack-compatible "text" field on each alert (trading.alerts);
    # empty = alerts are only logged.
    alert_webhook_url=env.str("ALERT_WEBHOOK_URL", default=""),
    # At most one alert of a kind per process in five minutes: a flapping feed or a run
    # of rejected orders would otherwise page someone every second; the next one that
    # goes out says how many were held back.
    alert_interval=number("ALERT_INTERVAL", 300.0),
    # A webhook that does not answer in 5 s is down; the sender's thread must move on.
    alert_timeout=number("ALERT_TIMEOUT", 5.0),
    # Prometheus scrapes with "Authorization: Bearer <token>"; empty = only logged-in
    # staff may read /metrics.
    metrics_token=env.str("METRICS_TOKEN", default=""),
)
