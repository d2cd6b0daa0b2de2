"""The events WebSocket as a browser sees it, on the real Redis channel layer:
ack and replay, resume by event id, commands and their permissions, bad input, pings."""

import time
from dataclasses import replace

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import Permission

from dashboard.consumers import CLOSE_PING_TIMEOUT
from dashboard.health import stats
from dashboard.protocol import MAX_COMMAND_CHARS
from tests.configs import configure
from tests.simulators import quiet_simulator
from tests.websocket import events_socket
from trading import events, publisher
from trading.feed import heartbeat
from trading.models import ActivityEvent, Order, StateTransition, WhaleDecision, WhaleTrade
from trading.selectors import watched_markets

pytestmark = [pytest.mark.needs_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def controller(django_user_model):
    user = django_user_model.objects.create_user(username="boss", password="pw-not-used")
    user.user_permissions.add(Permission.objects.get(codename="control_trading", content_type__app_label="trading"))
    return user


@pytest.fixture
def connect(session_cookie):
    """``await connect(user, query="")`` -> an open socket, its connection ack and its history replay."""
    sockets = []

    async def open_socket(user, query: str = ""):
        cookie = await sync_to_async(session_cookie)(user)
        socket = events_socket(cookie=cookie, path=f"/ws/events/{query}")
        connected, _ = await socket.connect()
        assert connected
        sockets.append(socket)
        ack, replay = await receive(socket), await receive(socket)
        assert ack["type"] == events.CONNECTION
        assert replay["type"] == events.HISTORY_REPLAY
        return socket, ack, replay

    yield open_socket


async def receive(socket) -> dict:
    return orjson.loads(await socket.receive_from(timeout=5))


async def send(socket, command) -> dict:
    await socket.send_to(text_data=command if isinstance(command, str) else orjson.dumps(command).decode())
    return await receive(socket)


# Recent, so that the history's retention still holds the events a browser resumes from.
NOW = float(int(time.time()))


def activity(n: int) -> ActivityEvent:
    return ActivityEvent.objects.create(type=events.SYSTEM_ACTIVITY, ts=NOW + n, data={"message": f"#{n}"})


@sync_to_async
def make_history() -> dict:
    for n in range(25):
        StateTransition.objects.create(from_state=f"s{n}", to_state=f"s{n + 1}", reason=f"step {n}")
    lines = [activity(n) for n in range(3)]
    status = ActivityEvent.objects.create(type=events.TRADER_STATUS, ts=1.0, data={"state": "trading"})
    state = ActivityEvent.objects.create(type=events.TRADING_STATE, ts=2.0, data={"version": 7, "balance": 5_000_000})
    queued = WhaleTrade.objects.create(
        trade_id="t-queued",
        market_ticker="KXTEST-A",
        taker_side="yes",
        yes_price=4500,
        count=100_000,
        notional=450_000_000,
        traded_at=10.0,
        detected_at=10.5,
    )
    decided = WhaleTrade.objects.create(
        trade_id="t-decided",
        market_ticker="KXTEST-B",
        taker_side="no",
        yes_price=3000,
        count=200_000,
        notional=1_400_000_000,
        traded_at=11.0,
        detected_at=11.2,
        status=WhaleTrade.Status.DECIDED,
    )
    WhaleDecision.objects.create(
        whale=decided,
        decision="skip",
        reason_code="spread_too_wide",
        reason_text="Spread 0.09 is over the 0.05 limit.",
        mode="paper",
        started_at=11.3,
        decided_at=11.4,
    )
    for n, status in enumerate(["resting", "canceled"]):
        Order.objects.create(
            client_order_id=f"c{n}", market_ticker="KXTEST-A", side="bid", price=4500, count=1000, status=status,
            mode="paper",
        )  # fmt: skip
    return {"lines": lines, "status": status, "state": state, "queued": queued, "decided": decided}


async def test_connect_sends_ack_then_history_replay(user, connect):
    history = await make_history()
    socket, ack, replay = await connect(user)

    assert ack["id"] == 0
    assert ack["data"]["user"] == "trader"
    assert ack["data"]["protocol_version"] == 1
    assert ack["data"]["can_control"] is False
    assert abs(ack["data"]["server_time"] - ack["ts"]) < 60

    data = replay["data"]
    assert data["resumed"] is False
    assert [t["reason"] for t in data["transitions"]] == [f"step {n}" for n in range(25)]
    assert [e["id"] for e in data["events"]] == [e.pk for e in history["lines"]]
    assert data["events"][0] == {"type": events.SYSTEM_ACTIVITY, "id": history["lines"][0].pk, "ts": NOW,
                                 "data": {"message": "#0"}}  # fmt: skip
    assert data["trading_state"]["id"] == history["state"].pk
    assert data["trading_state"]["data"] == {"version": 7, "balance": 5_000_000}
    assert data["trader_status"]["data"] == {"state": "trading"}
    assert data["last_event_id"] == history["state"].pk
    whales = {w["trade_id"]: w for w in data["whales"]}
    assert whales["t-queued"]["decision"] is None
    assert whales["t-queued"]["yes_price"] == 4500 and whales["t-queued"]["count"] == 100_000
    assert whales["t-decided"]["decision"]["reason_code"] == "spread_too_wide"
    assert [(o["client_order_id"], o["status"], o["price"]) for o in data["open_orders"]] == [("c0", "resting", 4500)]
    await socket.disconnect()


async def test_resume_after_last_event_id_has_no_gap_and_no_duplicate(user, connect):
    rows = await sync_to_async(lambda: [activity(n) for n in range(10)])()
    seen = rows[4].pk
    socket, _, replay = await connect(user, f"?last_event_id={seen}")

    assert replay["data"]["resumed"] is True
    assert [e["id"] for e in replay["data"]["events"]] == [r.pk for r in rows[5:]]
    # A replayed event that also reaches the socket live (published while the
    # replay was read) is not delivered twice ...
    again = rows[8]
    layer = get_channel_layer()
    await layer.group_send(
        events.EVENTS_GROUP,
        events.group_message(
            events.envelope(again.type, again.data, event_id=again.pk, ts=again.ts), event_id=again.pk
        ),
    )
    # ... and what is published after the replay follows it, in order.
    live = [await publisher.apublish(events.SYSTEM_ACTIVITY, {"message": f"live {n}"}) for n in range(3)]
    received = [await receive(socket) for _ in live]
    assert [e["id"] for e in received] == live
    assert live[0] > rows[-1].pk
    await socket.disconnect()


async def test_bad_last_event_id_is_an_error_and_a_fresh_replay(user, session_cookie):
    cookie = await sync_to_async(session_cookie)(user)
    socket = events_socket(cookie=cookie, path="/ws/events/?last_event_id=abc")
    connected, _ = await socket.connect()
    assert connected
    kinds = [(await receive(socket)) for _ in range(3)]
    assert [k["type"] for k in kinds] == [events.CONNECTION, events.ERROR, events.HISTORY_REPLAY]
    assert kinds[1]["data"]["code"] == "bad_last_event_id"
    assert kinds[2]["data"]["resumed"] is False
    await socket.disconnect()


async def test_control_commands_are_refused_without_the_permission(user, connect):
    socket, ack, _ = await connect(user)
    assert ack["data"]["can_control"] is False
    for kind in ("pause", "resume", "kill"):
        reply = await send(socket, {"type": kind, "ref": kind})
        assert reply["type"] == events.ERROR
        assert reply["data"] == {"code": "forbidden", "message": f"you may not {kind} trading", "ref": kind}
    assert await sync_to_async(ActivityEvent.objects.count)() == 0
    # The socket stays usable.
    assert (await send(socket, {"type": "subscribe_market", "ticker": "KXTEST-A"}))["data"]["ok"] is True
    await socket.disconnect()


async def test_malformed_and_unknown_messages_get_an_error_and_the_socket_stays(user, connect):
    socket, _, _ = await connect(user)
    bad = {
        "not json": "malformed",
        "[1, 2]": "malformed",
        '{"type": 5}': "malformed",
        '{"type": "pause", "ref": [1]}': "malformed",
        "x" * (MAX_COMMAND_CHARS + 1): "malformed",
        '{"type": "launch_rockets"}': "unknown_command",
        '{"type": "subscribe_market", "ticker": "bad ticker!"}': "bad_ticker",
        '{"type": "subscribe_market"}': "bad_ticker",
    }
    for text, code in bad.items():
        reply = await send(socket, text)
        assert (reply["type"], reply["data"]["code"]) == (events.ERROR, code), text
    await socket.send_to(bytes_data=b"\x00\x01")
    assert (await receive(socket))["data"]["code"] == "malformed"
    assert (await send(socket, {"type": "unsubscribe_market", "ticker": "KXTEST-A"}))["data"]["ok"] is True
    await socket.disconnect()


async def test_commands_are_rate_limited_per_connection(user, connect, settings):
    configure(settings, "DASHBOARD", command_burst=3)
    configure(settings, "DASHBOARD", command_rate=0.001)
    socket, _, _ = await connect(user)
    other, _, _ = await connect(user)
    command = {"type": "subscribe_market", "ticker": "KXTEST-A"}
    replies = [await send(socket, command) for _ in range(4)]
    assert [r["type"] for r in replies] == [events.COMMAND_RESULT] * 3 + [events.ERROR]
    assert replies[-1]["data"]["code"] == "rate_limited"
    # Another browser's budget is its own.
    assert (await send(other, command))["type"] == events.COMMAND_RESULT
    await socket.disconnect()
    await other.disconnect()


async def test_market_events_reach_only_subscribed_sockets(user, connect):
    socket, _, _ = await connect(user)
    reply = await send(socket, {"type": "subscribe_market", "ticker": "KXTEST-A", "ref": 1})
    assert reply["data"] == {"command": "subscribe_market", "ref": 1, "ok": True, "ticker": "KXTEST-A", "history": []}
    await publisher.apublish_market("KXTEST-A", {"market_ticker": "KXTEST-A", "yes_bid": 4400})
    market = await receive(socket)
    assert (market["type"], market["data"]["yes_bid"]) == (events.MARKET, 4400)

    await send(socket, {"type": "unsubscribe_market", "ticker": "KXTEST-A"})
    await publisher.apublish_market("KXTEST-A", {"market_ticker": "KXTEST-A", "yes_bid": 4500})
    after = await publisher.apublish(events.SYSTEM_ACTIVITY, {"message": "after"})
    assert (await receive(socket))["id"] == after
    await socket.disconnect()


async def test_answered_pings_keep_the_socket_open(user, connect, settings):
    configure(settings, "DASHBOARD", ping_interval=0.05)
    configure(settings, "DASHBOARD", ping_timeout=5)
    socket, _, _ = await connect(user)
    for seq in (1, 2, 3):
        ping = await receive(socket)
        assert (ping["type"], ping["data"]["seq"]) == (events.PING, seq)
        await socket.send_to(text_data=orjson.dumps({"type": "pong", "seq": seq}).decode())
    await socket.disconnect()


async def test_unanswered_ping_closes_the_socket_and_leaves_its_groups(user, connect, settings):
    configure(settings, "DASHBOARD", ping_interval=0.05)
    configure(settings, "DASHBOARD", ping_timeout=0.1)
    before = replace(stats)
    socket, _, _ = await connect(user)
    assert stats.open == before.open + 1
    await send(socket, {"type": "subscribe_market", "ticker": "KXTEST-A"})
    assert (await receive(socket))["type"] == events.PING
    closed = await socket.receive_output(timeout=5)
    assert (closed["type"], closed["code"]) == ("websocket.close", CLOSE_PING_TIMEOUT)
    layer = get_channel_layer()._get_layer()
    for group in (events.EVENTS_GROUP, events.market_group("KXTEST-A")):
        assert layer._get_group_channel_name(group) not in layer.groups, f"still in {group}"
    assert (stats.open, stats.closed_no_pong) == (before.open, before.closed_no_pong + 1)
    await socket.disconnect()


async def test_permitted_user_pauses_and_resumes_and_each_is_recorded_with_the_user(controller, connect):
    socket, ack, _ = await connect(controller)
    assert ack["data"]["can_control"] is True
    for kind, paused in (("pause", True), ("resume", False)):
        await socket.send_to(text_data=orjson.dumps({"type": kind, "ref": kind}).decode())
        # The reply, the activity line and the new trading_state, in whichever order they come.
        received = {}
        for _ in range(3):
            message = await receive(socket)
            received[message["type"]] = message
        assert received[events.COMMAND_RESULT]["data"] == {
            "command": kind, "ref": kind, "ok": True, "paused": paused, "killed": False
        }  # fmt: skip
        assert "by boss" in received[events.SYSTEM_ACTIVITY]["data"]["message"]
        assert received[events.TRADING_STATE]["data"]["paused"] is paused
    lines = await sync_to_async(list)(ActivityEvent.objects.filter(type=events.SYSTEM_ACTIVITY).order_by("id"))
    assert [line.data["details"]["user"] for line in lines] == ["boss", "boss"]
    await socket.disconnect()


async def test_browsers_of_one_process_share_one_group_subscription(user, connect):
    first, _, _ = await connect(user)
    second, _, _ = await connect(user)
    layer = get_channel_layer()._get_layer()
    assert len(layer.groups[layer._get_group_channel_name(events.EVENTS_GROUP)]) == 1
    text = events.envelope(events.SYSTEM_ACTIVITY, {"message": "to both"}, event_id=7, ts=1.0)
    await layer.group_send(events.EVENTS_GROUP, events.group_message(text))
    assert await first.receive_from(timeout=5) == text
    assert await second.receive_from(timeout=5) == text
    await first.disconnect()
    # The other browser keeps the process subscribed.
    await layer.group_send(events.EVENTS_GROUP, events.group_message(text))
    assert await second.receive_from(timeout=5) == text
    await second.disconnect()
    assert layer._get_group_channel_name(events.EVENTS_GROUP) not in layer.groups


async def test_events_published_while_the_replay_is_read_come_once_and_after_it(user, connect, monkeypatch):
    """The socket joins the group before it reads the replay: an event committed and
    broadcast in between is both in the replay and live, and must be sent once."""
    from asgiref.sync import async_to_sync

    from dashboard import consumers

    read_replay = consumers.selectors.history_replay
    raced: list[int] = []

    def replay_with_a_race(last_seen):
        raced.append(publisher.store(events.SYSTEM_ACTIVITY, {"message": "raced"}, 5.0))
        text = events.envelope(events.SYSTEM_ACTIVITY, {"message": "raced"}, event_id=raced[0], ts=5.0)
        async_to_sync(get_channel_layer().group_send)(
            events.EVENTS_GROUP, events.group_message(text, event_id=raced[0])
        )
        time.sleep(0.3)  # let the broadcast reach the socket before the replay is read
        return read_replay(last_seen)

    monkeypatch.setattr(consumers.selectors, "history_replay", replay_with_a_race)
    socket, _, replay = await connect(user)
    assert [e["id"] for e in replay["data"]["events"]] == raced
    after = await publisher.apublish(events.SYSTEM_ACTIVITY, {"message": "after"})
    assert (await receive(socket))["id"] == after
    await socket.disconnect()


async def test_a_browser_follows_a_bounded_number_of_markets(user, connect, settings):
    from dashboard.consumers import MAX_MARKETS

    configure(settings, "DASHBOARD", command_burst=MAX_MARKETS + 5)
    socket, _, _ = await connect(user)
    for n in range(MAX_MARKETS):
        assert (await send(socket, {"type": "subscribe_market", "ticker": f"KXM-{n}"}))["data"]["ok"] is True
    reply = await send(socket, {"type": "subscribe_market", "ticker": "KXM-ONE-TOO-MANY"})
    assert (reply["type"], reply["data"]["code"]) == (events.ERROR, "too_many_markets")
    # Subscribing again to one already followed is no new subscription.
    assert (await send(socket, {"type": "subscribe_market", "ticker": "KXM-0"}))["data"]["ok"] is True
    await socket.disconnect()


async def test_browsers_are_told_when_the_feed_runner_dies(user, connect, settings):
    configure(settings, "FEED", heartbeat_ttl=2)
    await sync_to_async(heartbeat.beat)(market_set="most-active:10", state="trading", now=time.time())
    socket, _, replay = await connect(user)
    assert replay["data"]["trader_status"] is None, "alive, and it has not reported yet"
    # No more beats: the runner is dead. This process's watch says so without any runner.
    down = await receive(socket)
    assert (down["type"], down["id"], down["data"]["state"]) == (events.TRADER_STATUS, 0, "down")
    assert down["data"]["components"][0]["name"] == "feed_runner"
    assert down["data"]["components"][0]["detail"].startswith("down: no heartbeat for")
    await socket.disconnect()


async def test_a_watched_market_is_recorded_for_the_feed_runner_until_unwatched_or_closed(user, connect):
    socket, _, _ = await connect(user)
    await send(socket, {"type": "subscribe_market", "ticker": "KXTEST-A"})
    await send(socket, {"type": "subscribe_market", "ticker": "KXTEST-B"})
    assert await sync_to_async(watched_markets)() == {"KXTEST-A", "KXTEST-B"}
    await send(socket, {"type": "unsubscribe_market", "ticker": "KXTEST-A"})
    assert await sync_to_async(watched_markets)() == {"KXTEST-B"}
    await socket.disconnect()
    assert await sync_to_async(watched_markets)() == set()


async def test_a_runner_on_the_whole_exchange_lets_a_browser_watch_any_listed_market(user, connect, settings):
    """Watching a market is what adds its book there, so the check asks the exchange, not the books."""
    async with quiet_simulator(3) as sim:
        configure(settings, "KALSHI", api_url=sim.rest_url)
        booked, other = sim.exchange.tickers[0], sim.exchange.tickers[2]
        await sync_to_async(publisher.publish)(
            events.TRADER_STATUS, {"state": "trading", "markets": [booked], "exchange_wide": True, "components": []}
        )
        socket, _, _ = await connect(user)
        reply = await send(socket, {"type": "subscribe_market", "ticker": other.lower()})
        assert reply["data"]["ok"] is True and reply["data"]["ticker"] == other
        reply = await send(socket, {"type": "subscribe_market", "ticker": "KXNOSUCH-1"})
        assert reply["type"] == events.ERROR
        assert reply["data"]["code"] == "unknown_market"
        assert reply["data"]["message"] == "KXNOSUCH-1 is not a market the exchange lists"
        await socket.disconnect()
