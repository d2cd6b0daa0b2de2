"""The history replay cut into WebSocket messages of at most PAGE_BYTES each.

daphne and uvicorn drop any frame over 1 MiB (docs/architecture.md); a browser resuming
after a long absence may be owed thousands of events, and one ``history_replay``
holding them all was dropped whole: the browser heard nothing, reconnected with
the same last event id, and was dropped again, forever. So the replay goes out as

* one ``history_replay``: the snapshot (state, queue, orders, transitions) and the
  first events that fit, with ``more`` true when pages follow;
* ``history_page`` messages, ``{"events": [...], "more": bool}``, in id order,
  the last with ``more`` false.

The browser applies each page's events as they come (so a drop mid-way resumes
after the last one it applied) and the snapshot once the last page is in (so an
older state among the events never overwrites the current one).
"""

import time
from typing import Any

import orjson

from trading import events

# A quarter of the 1 MiB frame cap: far from it whatever the envelope adds, and
# small enough that the live events queued behind a long catch-up wait for one
# short write, not one huge one.
PAGE_BYTES = 256 * 1024


def replay_messages(replay: dict[str, Any], *, page_bytes: int = PAGE_BYTES) -> list[str]:
    """The finished texts of a ``history_replay`` and its ``history_page`` followers.

    Each is at most ``page_bytes`` UTF-8 bytes, unless one event alone (or the
    snapshot alone) is larger: it then goes in a message of its own, never dropped."""
    ts = time.time()
    sizes = [len(orjson.dumps(event)) for event in replay["events"]]
    # The snapshot's own size with no events; "more": false is the longer of the two values.
    head = _size(events.HISTORY_REPLAY, dict(replay, events=[], more=False), ts)
    page = _size(events.HISTORY_PAGE, {"events": [], "more": False}, ts)
    bounds = _pages(sizes, first_budget=page_bytes - head, budget=page_bytes - page)
    texts = []
    for n, (start, end) in enumerate(bounds):
        more = n + 1 < len(bounds)
        chunk = replay["events"][start:end]
        if n == 0:
            texts.append(events.envelope(events.HISTORY_REPLAY, dict(replay, events=chunk, more=more), ts=ts))
        else:
            texts.append(events.envelope(events.HISTORY_PAGE, {"events": chunk, "more": more}, ts=ts))
    return texts


def _size(event_type: str, data: dict[str, Any], ts: float) -> int:
    return len(events.envelope(event_type, data, ts=ts).encode())


def _pages(sizes: list[int], *, first_budget: int, budget: int) -> list[tuple[int, int]]:
    """[start, end) of each page: greedy, each event costing its size plus a comma."""
    bounds: list[tuple[int, int]] = []
    start, used, limit = 0, 0, first_budget
    for n, size in enumerate(sizes):
        cost = size + (1 if n > start else 0)
        if used + cost <= limit:
            used += cost
        elif n > start or not bounds:
            # Close the page: it holds events, or it is the snapshot's (which may close empty).
            bounds.append((start, n))
            start, used, limit = n, size, budget
        else:
            # A page of its own for one event larger than a page: sent whole, never dropped.
            used += cost
    bounds.append((start, len(sizes)))
    return bounds
