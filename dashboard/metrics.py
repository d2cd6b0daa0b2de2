"""``GET /metrics`` in Prometheus' text format (prometheus_client), for staff sessions
or a scraper holding ``METRICS_TOKEN``.

Three sources, each labelled by where it comes from:

* the database (trading.selectors.metrics_counts): whales, decisions by reason, orders
  by status, fills, realized P&L: the same from whichever web process is scraped;
* the feed runner's latest ``trader_status`` (it runs in another process): frames,
  sequence gaps and resyncs, bus utilisation and drops, whales detected, its state;
* this web process: its browser sockets and outbox drops, and its publisher's drops
  (``process`` label: with one daphne per core, scrape each, or sum them).

Everything is read when scraped: nothing here keeps state between scrapes.
"""

import hmac
import os
import time
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dashboard.health import stats
from trading import alerts, publisher, selectors, units
from trading.feed.state import State

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def allowed(request: HttpRequest) -> bool:
    """A staff session, or ``Authorization: Bearer <METRICS_TOKEN>`` when a token is set."""
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.OPERATIONS.metrics_token
    header = request.headers.get("Authorization", "")
    return bool(token) and header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.encode())


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _labelled(family: CounterMetricFamily | GaugeMetricFamily, rows: dict[Any, int]) -> Metric:
    for labels, value in sorted(rows.items()):
        family.add_metric(list(labels) if isinstance(labels, tuple) else [labels], value)
    return family


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        counts = selectors.metrics_counts()
        yield _labelled(
            GaugeMetricFamily("v3_whales", "Whales recorded, by status.", labels=["status"]), counts["whales"]
        )
        yield _labelled(
            CounterMetricFamily(
                "v3_decisions", "Whale decisions, by decision and reason code.", labels=["decision", "reason"]
            ),
            counts["decisions"],
        )
        yield _labelled(GaugeMetricFamily("v3_orders", "Orders, by status.", labels=["status"]), counts["orders"])
        yield _counter("v3_fills", "Fills of our orders.", counts["fills"])
        yield _gauge(
            "v3_realized_pnl_dollars",
            "Realized P&L over all markets, before fees.",
            counts["realized_pnl"] / units.MONEY_SCALE,
        )
        yield _gauge("v3_fees_dollars", "Fees paid over all markets.", counts["fees"] / units.MONEY_SCALE)
        yield _gauge(
            "v3_replay_log_events", "Events kept in the replay log (ActivityEvent).", counts["activity_events"]
        )


class FeedRunnerCollector(Collector):
    """From the runner's latest report: counters restart with the runner, as Prometheus expects."""

    def collect(self) -> Iterator[Metric]:
        event = selectors.trader_status_now()
        data: dict[str, Any] = event["data"] if event else {}
        state = data.get("state", "down" if event else "unknown")
        family = GaugeMetricFamily("v3_state", "The trader's state: 1 for the current one.", labels=["state"])
        for name in [*(s.value for s in State), "down", "unknown"]:
            family.add_metric([name], 1.0 if name == state else 0.0)
        yield family
        if event is not None:
            yield _gauge(
                "v3_feed_report_age_seconds", "Age of the feed runner's latest report.", time.time() - event["ts"]
            )
        feed = data.get("feed", {})
        for key, doc in (
            ("messages", "WebSocket frames received from the exchange."),
            ("gaps", "Sequence gaps detected."),
            ("resyncs", "Order book resyncs (re-snapshots)."),
            ("drops", "Frames a full listener queue could not take."),
            ("parse_errors", "Frames that did not parse."),
            ("reconnects", "Reconnections to the exchange."),
            ("events_sent", "Coalesced market events sent to browsers."),
        ):
            yield _counter(f"v3_feed_{key}", doc, feed.get(key, 0))
        components = {c.get("name"): c for c in data.get("components", [])}
        healthy = GaugeMetricFamily("v3_component_healthy", "1 when the component is healthy.", labels=["component"])
        for name, component in sorted(components.items()):
            healthy.add_metric([str(name)], 1.0 if component.get("healthy") else 0.0)
        yield healthy
        books = components.get("orderbooks", {}).get("metrics", {})
        trades = components.get("trades", {}).get("metrics", {})
        frames = CounterMetricFamily("v3_feed_channel_messages", "Messages applied, by channel.", labels=["channel"])
        frames.add_metric(["orderbook_snapshot"], books.get("snapshots", 0))
        frames.add_metric(["orderbook_delta"], books.get("deltas", 0))
        frames.add_metric(["trade"], trades.get("trades", 0))
        yield frames
        if books.get("lag_s") is not None:
            yield _gauge(
                "v3_book_lag_seconds",
                "How far the newest book change applied trails the exchange's clock.",
                books["lag_s"],
            )
        bus = data.get("bus", {})
        yield _gauge(
            "v3_bus_utilization_ratio",
            "Fullest bus queue, as a fraction of its bound.",
            bus.get("queue_utilization", 0.0),
        )
        yield _counter("v3_bus_published", "Events published on the feed runner's bus.", bus.get("published", 0))
        yield _counter(
            "v3_bus_dropped", "Market data the bus dropped (a full subscriber queue).", bus.get("dropped", 0)
        )
        yield _counter(
            "v3_whales_detected",
            "Whales the feed runner detected since it started.",
            data.get("whales", {}).get("detected", 0),
        )
        yield _gauge(
            "v3_exchange_connected",
            "1 when the feed runner is connected to the exchange.",
            1.0 if data.get("exchange_connected") else 0.0,
        )


class CeleryQueueCollector(Collector):
    """Tasks waiting in each Celery queue (services shape): a backlog here is whales
    waiting for a decision, or follows waiting to be placed."""

    def collect(self) -> Iterator[Metric]:
        if not settings.REDIS_URL:
            return
        family = GaugeMetricFamily("v3_celery_queue_length", "Tasks waiting in a Celery queue.", labels=["queue"])
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2)
        try:
            for queue in settings.CELERY_TASK_QUEUES:
                family.add_metric([queue.name], client.llen(f"{settings.REDIS_KEY_PREFIX}{queue.name}"))
        except redis.RedisError:
            return  # Redis away: the gauge is missing from this scrape, which Prometheus shows as a gap
        finally:
            client.close()
        yield family


class ProcessCollector(Collector):
    """This web process's own counters."""

    def collect(self) -> Iterator[Metric]:
        pid = str(os.getpid())
        own = publisher.get_publisher()
        sender = alerts.sender()
        for name, doc, value, kind in (
            ("v3_open_sockets", "Browser sockets open.", stats.open, GaugeMetricFamily),
            (
                "v3_outbox_closed_too_slow",
                "Browsers closed for reading too slowly (outbox full).",
                stats.closed_too_slow,
                CounterMetricFamily,
            ),
            (
                "v3_outbox_market_superseded",
                "Market events replaced before a slow browser read them.",
                stats.market_superseded,
                CounterMetricFamily,
            ),
            (
                "v3_publisher_dropped",
                "Events this process's publisher dropped (backlog full).",
                own.dropped,
                CounterMetricFamily,
            ),
            ("v3_publisher_failed", "Sends to the channel layer that failed.", own.failed, CounterMetricFamily),
            ("v3_alerts_failed", "Alerts the webhook did not take.", sender.failed, CounterMetricFamily),
        ):
            family = kind(name, doc, labels=["process"])
            family.add_metric([pid], value)
            yield family


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    for collector in (DatabaseCollector(), FeedRunnerCollector(), CeleryQueueCollector(), ProcessCollector()):
        registry.register(collector)
    return generate_latest(registry)
