"""The market-data WebSocket client's counters, shared by its connection, sequence
checks, books and listeners so that ``health()`` and the feed's status report read one
place (``client.metrics.to_dict()``)."""

from dataclasses import asdict, dataclass


@dataclass
class FeedMetrics:
    messages: int = 0
    bytes: int = 0
    parse_errors: int = 0
    unknown_types: int = 0
    ignored: int = 0  # known messages the project does not use (event_fee_update, multivariate lifecycle)
    gaps: int = 0
    resyncs: int = 0
    duplicates: int = 0
    dropped_deltas: int = 0  # deltas for a stale book, waiting for its snapshot
    stray: int = 0  # data on a sid that is no longer ours (in flight when we resubscribed)
    drops: int = 0  # messages a full listener queue could not take
    error_replies: int = 0
    connects: int = 0
    reconnects: int = 0
    failed_connects: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
