"""The publisher: envelope serialized once, persisted before it is sent, sent only
after commit, through one long-lived loop from sync code, to real Channels groups."""

import asyncio
import threading

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction

from tests.trading.feed.listener import GroupListener
from trading import events, publisher
from trading.models import ActivityEvent

pytestmark = [pytest.mark.django_db(transaction=True)]


def _close_connection() -> None:
    connection.close()


@pytest.fixture(autouse=True)
async def _close_thread_connection():
    """apublish stores on asgiref's shared thread; close its connection so the test database can be dropped."""
    yield
    await sync_to_async(_close_connection)()


@pytest.fixture
async def listener():
    listeners: list[GroupListener] = []

    async def join(*groups: str, layer=None) -> GroupListener:
        listeners.append(await GroupListener(layer).join(*groups))
        return listeners[-1]

    yield join
    for one in listeners:
        await one.close()


async def _in_worker_thread(fn):
    """Run sync code on a thread of its own, as a Celery worker would, closing its DB connection after."""

    def run():
        try:
            return fn()
        finally:
            connection.close()

    return await asyncio.to_thread(run)


@pytest.mark.needs_redis
async def test_persisted_event_reaches_group_as_one_serialized_text_with_row_id(listener):
    group = await listener(events.EVENTS_GROUP)
    event_id = await publisher.apublish(events.SYSTEM_ACTIVITY, events.activity(source="feed", message="héllo"))
    message = await group.next_message()
    assert message["type"] == events.BROADCAST
    assert isinstance(message["text"], str)
    body = orjson.loads(message["text"])
    row = await ActivityEvent.objects.aget(pk=event_id)
    assert body == {"type": events.SYSTEM_ACTIVITY, "id": row.pk, "ts": row.ts, "data": row.data}
    assert (message["id"], message["market"]) == (row.pk, None)


@pytest.mark.needs_redis
async def test_market_event_is_transient_and_goes_to_the_market_group_only(listener):
    ticker = "KXFED-27JAN-T4.25"
    market = await listener(events.market_group(ticker))
    everyone = await listener(events.EVENTS_GROUP)
    await publisher.apublish_market(ticker, {"ticker": ticker, "yes_bid": 4100})
    message = await market.next_message()
    assert (message["id"], message["market"]) == (0, ticker)
    body = orjson.loads(message["text"])
    assert body["type"] == events.MARKET and body["id"] == 0 and body["data"]["yes_bid"] == 4100
    assert await ActivityEvent.objects.acount() == 0
    assert await everyone.nothing_for(0.3)


@pytest.mark.needs_redis
async def test_sync_publish_goes_through_one_long_lived_loop_and_keeps_order(listener):
    group = await listener(events.EVENTS_GROUP)

    def burst() -> list[int]:
        return [publisher.publish(events.SYSTEM_ACTIVITY, {"n": n}) for n in range(20)]

    ids = await _in_worker_thread(burst)
    received = [await group.next_event() for _ in ids]
    assert [body["id"] for body in received] == ids
    assert [body["data"]["n"] for body in received] == list(range(20))
    assert sum(t.name == "publisher" for t in threading.enumerate()) == 1


@pytest.mark.needs_redis
async def test_rolled_back_event_is_neither_stored_nor_sent(listener):
    group = await listener(events.EVENTS_GROUP)

    class Abort(Exception):
        pass

    def rolled_back_then_committed() -> int:
        with pytest.raises(Abort), transaction.atomic():
            publisher.publish(events.SYSTEM_ACTIVITY, {"message": "rolled back"})
            raise Abort
        return publisher.publish(events.SYSTEM_ACTIVITY, {"message": "committed"})

    committed_id = await _in_worker_thread(rolled_back_then_committed)
    body = await group.next_event()
    assert body["id"] == committed_id and body["data"]["message"] == "committed"
    assert await ActivityEvent.objects.acount() == 1


@pytest.mark.needs_redis
async def test_event_inside_transaction_is_sent_only_after_commit(listener):
    group = await listener(events.EVENTS_GROUP)
    inside = threading.Event()
    release = threading.Event()

    def slow_transaction() -> None:
        with transaction.atomic():
            publisher.publish(events.WHALE_QUEUE, {"whales": []})
            inside.set()
            release.wait(5)

    task = asyncio.ensure_future(_in_worker_thread(slow_transaction))
    await asyncio.to_thread(inside.wait, 5)
    assert await group.nothing_for(0.3)
    release.set()
    await task
    assert (await group.next_event())["type"] == events.WHALE_QUEUE


def test_unknown_event_type_is_refused_before_anything_is_stored():
    with pytest.raises(ValueError, match="unknown event type"):
        publisher.publish("whale_alert", {"x": 1})
    assert ActivityEvent.objects.count() == 0


async def test_attached_loop_carries_sync_publishes_through_the_in_memory_layer(listener, monkeypatch):
    """The embedded default: the sync path (a worker thread) must reach consumers on the serving loop."""
    from channels.layers import InMemoryChannelLayer

    layer = InMemoryChannelLayer()
    monkeypatch.setattr(publisher, "get_channel_layer", lambda: layer)
    group = await listener(events.EVENTS_GROUP, layer=layer)
    pub = publisher.Publisher()
    pub.attach(asyncio.get_running_loop())
    message = events.group_message(events.envelope(events.SYSTEM_ACTIVITY, {"message": "from a worker thread"}))
    await asyncio.to_thread(pub.enqueue, (events.EVENTS_GROUP,), message)
    assert await group.next_message() == message
    assert pub.sent == 1 and pub.health().healthy


def test_flush_after_the_attached_loop_stopped_returns_at_once():
    """At exit the embedded server's loop has stopped: flushing must not wait for it in vain."""
    loop = asyncio.new_event_loop()
    pub = publisher.Publisher()
    pub.attach(loop)
    loop.run_until_complete(asyncio.sleep(0))  # the drain task starts, then the loop stops
    try:
        assert pub.flush(timeout=5) is True
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()


def test_a_forked_child_publishes_on_a_loop_of_its_own(monkeypatch):
    """Celery prefork: the parent's publisher thread does not exist in the child, so the
    child's sends must go to a new loop there, not wait forever on the inherited one."""
    import os

    from channels.layers import InMemoryChannelLayer

    monkeypatch.setattr(publisher, "get_channel_layer", InMemoryChannelLayer)
    pub = publisher.Publisher()
    message = events.group_message(events.envelope(events.SYSTEM_ACTIVITY, events.activity(source="test", message="x")))
    pub.enqueue((events.EVENTS_GROUP,), message)
    assert pub.flush(timeout=5) and pub.sent == 1
    pid = os.fork()
    if pid == 0:
        try:
            pub.enqueue((events.EVENTS_GROUP,), message)
            os._exit(0 if pub.flush(timeout=5) and pub.sent == 2 else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
