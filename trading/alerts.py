"""Alerts: what an operator must hear about without watching the dashboard, sent to
``ALERT_WEBHOOK_URL`` as a JSON POST with a Slack-compatible ``text`` field.

``alert(kind, text)`` never blocks and never raises: it logs the alert, and hands it to
one daemon thread per process that posts it, so a slow or dead webhook never holds a
decision, a kill or the feed loop. Each kind goes out at most once per
``ALERT_INTERVAL`` from one process; the next one says how many were held back. A
failed POST is logged and dropped. A process that exits (``manage.py trading kill``)
waits up to ``ALERT_TIMEOUT`` for the thread to send what is queued.
"""

import atexit
import logging
import os
import queue
import threading
import time

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

STATE_ERROR = "state_error"
KILL_SWITCH = "kill_switch"
DAILY_LOSS_LIMIT = "daily_loss_limit"
FEED_RUNNER_DOWN = "feed_runner_down"
FEED_FAILOVER = "feed_failover"
RECONCILIATION = "reconciliation"
ORDER_REJECTED = "order_rejected"
KINDS = frozenset(
    {STATE_ERROR, KILL_SWITCH, DAILY_LOSS_LIMIT, FEED_RUNNER_DOWN, FEED_FAILOVER, RECONCILIATION, ORDER_REJECTED}
)

# Alerts waiting for the thread. Every kind is rate-limited, so more than this many
# waiting means the webhook hangs on each one: the overflow is counted and logged.
MAX_PENDING = 100


class AlertSender:
    """The rate limit per kind, and the thread and queue that post (started on first use
    in each process: a Celery pool process is forked without the parent's thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(MAX_PENDING)
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def alert(self, kind: str, text: str) -> bool:
        """Queue one alert unless its kind went out within ``ALERT_INTERVAL``; True if queued."""
        if kind not in KINDS:
            raise ValueError(f"unknown alert kind {kind!r}; add it to trading.alerts")
        config = settings.OPERATIONS
        logger.warning("alert %s: %s", kind, text)
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < config.alert_interval:
                self._held[kind] = self._held.get(kind, 0) + 1
                return False
            self._last[kind] = now
            held = self._held.pop(kind, 0)
            if not config.alert_webhook_url:
                return False
            self._ensure_thread()
        if held:
            text = f"{text} ({held} more {kind} alerts held back since the last one)"
        try:
            self._queue.put_nowait((kind, f"[V3 Trader] {text}"))
        except queue.Full:
            self.dropped += 1
            logger.error("alert %s dropped: %d alerts already wait for the webhook", kind, MAX_PENDING)
            return False
        return True

    def flush(self, timeout: float) -> bool:
        """Wait until every queued alert was posted (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if self._pid != os.getpid() or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _ensure_thread(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._queue = queue.Queue(MAX_PENDING)
        threading.Thread(target=self._run, args=(self._queue,), name="alerts", daemon=True).start()

    def _run(self, pending: "queue.Queue[tuple[str, str]]") -> None:
        with httpx.Client() as client:
            while True:
                kind, text = pending.get()
                try:
                    self._post(client, kind, text)
                finally:
                    pending.task_done()

    def _post(self, client: httpx.Client, kind: str, text: str) -> None:
        config = settings.OPERATIONS
        try:
            response = client.post(
                config.alert_webhook_url, json={"text": text, "kind": kind}, timeout=config.alert_timeout
            )
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            self.failed += 1
            logger.error("alert %s not delivered: the webhook answered %s", kind, exc.response.status_code)
        except httpx.HTTPError as exc:
            # The URL may hold a token (Slack's do): name the error's type, never the URL.
            self.failed += 1
            logger.error("alert %s not delivered: %s", kind, type(exc).__name__)
        else:
            self.sent += 1


_sender = AlertSender()


def alert(kind: str, text: str) -> None:
    """Tell the operator (see the module docstring); never raises for a send."""
    _sender.alert(kind, text)


def sender() -> AlertSender:
    """This process's sender: its counters (for metrics) and ``flush``."""
    return _sender


@atexit.register
def _flush_at_exit() -> None:
    if _sender._queue.unfinished_tasks:
        _sender.flush(settings.OPERATIONS.alert_timeout)
