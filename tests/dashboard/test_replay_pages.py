"""The history replay in messages of at most a page: every event once, in order, none dropped."""

import orjson

from dashboard.replay_pages import PAGE_BYTES, replay_messages
from trading import events


def event(n: int, size: int = 1_000) -> dict:
    return {"type": events.SYSTEM_ACTIVITY, "id": n, "ts": 1.0, "data": {"message": "x" * size}}


def snapshot(evts: list[dict], **extra) -> dict:
    return {"resumed": True, "gap": False, "last_event_id": 0, "events": evts, "transitions": [], **extra}


def decode(texts: list[str]) -> list[dict]:
    return [orjson.loads(text) for text in texts]


def test_a_small_replay_is_one_history_replay_without_more():
    messages = decode(replay_messages(snapshot([event(1), event(2)])))
    assert [(m["type"], m["data"]["more"]) for m in messages] == [(events.HISTORY_REPLAY, False)]
    assert [e["id"] for e in messages[0]["data"]["events"]] == [1, 2]


def test_a_catch_up_over_a_megabyte_goes_in_pages_of_at_most_256_kb():
    evts = [event(n, size=2_000) for n in range(1, 700)]  # ~1.4 MB
    texts = replay_messages(snapshot(evts))
    assert all(len(text.encode()) <= PAGE_BYTES == 256 * 1024 for text in texts)
    messages = decode(texts)
    assert len(messages) >= 6
    assert messages[0]["type"] == events.HISTORY_REPLAY
    assert {m["type"] for m in messages[1:]} == {events.HISTORY_PAGE}
    assert [m["data"]["more"] for m in messages] == [True] * (len(messages) - 1) + [False]
    assert [e["id"] for m in messages for e in m["data"]["events"]] == list(range(1, 700))
    # Pages are full, not merely small: each holds what fits.
    assert all(len(text.encode()) > PAGE_BYTES - 2_100 for text in texts[:-1])


def test_the_snapshot_travels_in_the_first_message_only():
    texts = replay_messages(snapshot([event(n, 2_000) for n in range(300)], whales=[{"whale_id": 1}]))
    messages = decode(texts)
    assert messages[0]["data"]["whales"] == [{"whale_id": 1}]
    assert all(set(m["data"]) == {"events", "more"} for m in messages[1:])


def test_an_event_larger_than_a_page_is_sent_alone_not_dropped():
    evts = [event(1, 100), event(2, 2_000), event(3, 100)]
    messages = decode(replay_messages(snapshot(evts), page_bytes=1_500))
    assert [[e["id"] for e in m["data"]["events"]] for m in messages] == [[1], [2], [3]]


def test_a_snapshot_larger_than_a_page_goes_alone_before_the_events():
    messages = decode(replay_messages(snapshot([event(1, 100)], transitions=["t" * 2_000]), page_bytes=1_500))
    assert [(m["type"], len(m["data"]["events"])) for m in messages] == [
        (events.HISTORY_REPLAY, 0),
        (events.HISTORY_PAGE, 1),
    ]
