"""What a browser (or something pretending to be one) cannot do to the events socket:
crash it with a bad last_event_id, lose a long catch-up, miss a gap silently, open
sockets without end, or flood it with bad frames."""

import time
import uuid
from dataclasses import replace

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from dashboard import presence
from dashboard.consumers import CLOSE_TOO_MANY, MAX_REFUSED_IN_A_ROW
from dashboard.health import stats
from tests.configs import configure
from tests.websocket import events_socket
from trading import events, publisher
from trading.models import ActivityEvent

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def cookie(user, session_cookie):
    return session_cookie(user)


async def receive(socket) -> dict:
    return orjson.loads(await socket.receive_from(timeout=5))


async def open_socket(cookie: bytes, query: str = ""):
    socket = events_socket(cookie=cookie, path=f"/ws/events/{query}")
    connected, _ = await socket.connect()
    assert connected
    return socket


async def replay_of(socket) -> tuple[dict, list[dict]]:
    """The connection ack is skipped; the history_replay and its pages, as received."""
    assert (await receive(socket))["type"] == events.CONNECTION
    replay = await receive(socket)
    assert replay["type"] == events.HISTORY_REPLAY, replay
    pages = []
    more = replay["data"]["more"]
    while more:
        pages.append(await receive(socket))
        more = pages[-1]["data"]["more"]
    return replay, pages


def store(message: str, ts: float | None = None) -> int:
    return publisher.store(events.SYSTEM_ACTIVITY, {"message": message}, time.time() if ts is None else ts)


@pytest.mark.parametrize(
    "value",
    ["9" * 5_000, str(2**63), "-1", "1e5", "\uff11\uff12", "", "0x10"],
    ids=["5000-digits", "over-bigint", "negative", "exponent", "full-width", "empty", "hex"],
)
async def test_bad_last_event_id_gets_an_error_and_a_fresh_replay(cookie, value):
    before = replace(stats)
    await sync_to_async(store)("recent line")
    socket = await open_socket(cookie, f"?last_event_id={value}")
    kinds = [await receive(socket) for _ in range(3)]
    assert [k["type"] for k in kinds] == [events.CONNECTION, events.ERROR, events.HISTORY_REPLAY]
    assert kinds[1]["data"]["code"] == "bad_last_event_id"
    assert kinds[2]["data"]["resumed"] is False
    assert [e["data"]["message"] for e in kinds[2]["data"]["events"]] == ["recent line"]
    # The socket works, and leaves nothing behind when it closes.
    await socket.send_to(text_data='{"type": "subscribe_market", "ticker": "KXTEST-A"}')
    assert (await receive(socket))["type"] == events.COMMAND_RESULT
    await socket.disconnect()
    assert stats.open == before.open


def test_largest_event_id_is_accepted():
    from dashboard.protocol import MAX_EVENT_ID, last_event_id

    assert last_event_id(f"last_event_id={MAX_EVENT_ID}".encode()) == 2**63 - 1


async def test_catch_up_over_a_megabyte_comes_in_pages_then_live_events(cookie):
    @sync_to_async
    def history():
        seen = store("seen")
        return seen, [store(f"missed {n} " + "x" * 2_000) for n in range(600)]  # ~1.3 MB

    seen, missed = await history()
    socket = await open_socket(cookie, f"?last_event_id={seen}")
    replay, pages = await replay_of(socket)
    assert replay["data"]["resumed"] is True and replay["data"]["gap"] is False
    assert len(pages) >= 4
    assert all(page["type"] == events.HISTORY_PAGE for page in pages)
    received = [e["id"] for message in (replay, *pages) for e in message["data"]["events"]]
    assert received == missed
    live = await publisher.apublish(events.SYSTEM_ACTIVITY, {"message": "live"})
    assert (await receive(socket))["id"] == live
    await socket.disconnect()


async def test_resuming_from_a_pruned_event_is_a_fresh_replay_marked_gap(cookie):
    @sync_to_async
    def pruned_history():
        seen = store("seen, then pruned")
        after = store("after it, pruned too")
        kept = store("kept")
        ActivityEvent.objects.filter(id__in=[seen, after]).delete()
        return seen, kept

    seen, kept = await pruned_history()
    socket = await open_socket(cookie, f"?last_event_id={seen}")
    replay, pages = await replay_of(socket)
    assert (replay["data"]["resumed"], replay["data"]["gap"], pages) == (False, True, [])
    assert [e["id"] for e in replay["data"]["events"]] == [kept]
    await socket.disconnect()


async def test_resuming_from_an_event_older_than_retention_is_marked_gap(cookie):
    old = await sync_to_async(store)(
        "a week and a day ago", ts=time.time() - django_settings.RETENTION.activity_retention - 86_400
    )
    await sync_to_async(store)("recent")
    socket = await open_socket(cookie, f"?last_event_id={old}")
    replay, _ = await replay_of(socket)
    assert (replay["data"]["resumed"], replay["data"]["gap"]) == (False, True)
    await socket.disconnect()


async def test_resuming_from_an_id_this_history_never_had_is_marked_gap(cookie):
    newest = await sync_to_async(store)("newest")
    socket = await open_socket(cookie, f"?last_event_id={newest + 1_000}")
    replay, _ = await replay_of(socket)
    assert (replay["data"]["resumed"], replay["data"]["gap"]) == (False, True)
    assert [e["id"] for e in replay["data"]["events"]] == [newest]
    await socket.disconnect()


async def test_a_users_sockets_beyond_the_limit_are_closed_with_4429(cookie, settings):
    configure(settings, "DASHBOARD", max_connections_per_user=2)
    before = replace(stats)
    first, second = await open_socket(cookie), await open_socket(cookie)
    third = events_socket(cookie=cookie)
    assert (await third.connect())[0]  # accepted, so that the browser can read the code
    assert await third.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_TOO_MANY}
    assert stats.refused_too_many == before.refused_too_many + 1
    # A closed socket frees its slot.
    await first.disconnect()
    again = await open_socket(cookie)
    assert (await receive(again))["type"] == events.CONNECTION
    await again.disconnect()
    await second.disconnect()


async def test_the_count_is_shared_with_other_web_processes(user, cookie, settings):
    """Another daphne's sockets count: its claims are in the same Redis."""
    configure(settings, "DASHBOARD", max_connections_per_user=2)
    other_process = presence.RedisSlots(django_settings.REDIS_URL, django_settings.CHANNELS_PREFIX)
    assert await other_process.claim(user.pk, uuid.uuid4().hex, limit=2)
    mine = await open_socket(cookie)
    over = events_socket(cookie=cookie)
    await over.connect()
    assert (await over.receive_output(timeout=5))["code"] == CLOSE_TOO_MANY
    await mine.disconnect()
    await other_process.redis.delete(other_process.key(user.pk))
    await other_process.redis.aclose()


async def test_claims_of_a_dead_process_expire():
    """A web process killed without closing its sockets must not lock their user out for good."""
    slots = presence.RedisSlots(django_settings.REDIS_URL, django_settings.CHANNELS_PREFIX)
    user_id = 10**9 + 7
    assert await slots.claim(user_id, "dead-1", limit=1)
    assert not await slots.claim(user_id, "new", limit=1)
    assert await slots.claim(user_id, "dead-1", limit=1), "renewing one's own claim is not a new one"
    # Its process died: no renewal, and the claim's time runs out.
    await slots.redis.zadd(slots.key(user_id), {"dead-1": time.time() - 1})
    assert await slots.claim(user_id, "new", limit=1)
    await slots.redis.delete(slots.key(user_id))
    await slots.redis.aclose()


async def test_local_count_of_the_embedded_default():
    slots = presence.LocalSlots()
    assert await slots.claim(1, "a", limit=2) and await slots.claim(1, "b", limit=2)
    assert not await slots.claim(1, "c", limit=2)
    assert await slots.claim(2, "c", limit=2), "another user's count is their own"
    await slots.release(1, "a")
    assert await slots.claim(1, "c", limit=2)


async def test_a_flood_of_bad_frames_gets_few_replies_and_then_4429(cookie, settings):
    configure(settings, "DASHBOARD", command_burst=3)
    configure(settings, "DASHBOARD", command_rate=0.001)
    before = replace(stats)
    socket = await open_socket(cookie)
    await replay_of(socket)
    for _ in range(3 + MAX_REFUSED_IN_A_ROW):
        await socket.send_to(text_data="not json")
    outputs = []
    while (output := await socket.receive_output(timeout=5))["type"] != "websocket.close":
        outputs.append(orjson.loads(output["text"])["data"]["code"])
    assert outputs == ["malformed"] * 3 + ["rate_limited"]
    assert output["code"] == CLOSE_TOO_MANY
    assert stats.closed_abuse == before.closed_abuse + 1


async def test_the_answer_to_the_current_ping_is_free_of_the_budget(cookie, settings):
    configure(settings, "DASHBOARD", command_burst=1)
    configure(settings, "DASHBOARD", command_rate=0.001)
    configure(settings, "DASHBOARD", ping_interval=0.05)
    socket = await open_socket(cookie)
    await replay_of(socket)
    for _ in range(3):
        ping = await receive(socket)
        await socket.send_to(text_data=orjson.dumps({"type": "pong", "seq": ping["data"]["seq"]}).decode())
    # The one command of the budget is still there.
    await socket.send_to(text_data='{"type": "subscribe_market", "ticker": "KXTEST-A"}')
    while (message := await receive(socket))["type"] == events.PING:
        pass
    assert message["type"] == events.COMMAND_RESULT
    await socket.disconnect()
