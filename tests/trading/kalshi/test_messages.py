"""Every server message of PROTOCOL.md parses into typed messages with trading.units integers."""

import json
from pathlib import Path

import orjson
import pytest

from trading.kalshi import messages as m
from trading.kalshi.fields import Count, Money, Price, dec_hook
from trading.units import UnitError, parse_count, parse_money, parse_price

from .conftest import EXAMPLES, examples

SERVER_FILES = sorted(p for p in EXAMPLES.glob("*.json") if not p.name.startswith(("cmd_", "rest_")))


@pytest.mark.parametrize("path", SERVER_FILES, ids=lambda p: p.stem)
def test_every_server_example_parses(path: Path) -> None:
    for entry in json.loads(path.read_text()):
        msg = m.parse(json.dumps(entry).encode() + b"\n")  # Kalshi may end a frame with a newline
        assert m.MESSAGE_TYPES[entry["type"]] is type(msg)


def test_all_message_types_have_an_example() -> None:
    seen = {entry["type"] for path in SERVER_FILES for entry in json.loads(path.read_text())}
    ignored = {cls.__struct_config__.tag for cls in m.IGNORED_TYPES}  # kept as sent, no recorded example
    assert seen == set(m.MESSAGE_TYPES) - ignored


def test_snapshot_levels_are_units() -> None:
    first, second, resync = (m.parse(json.dumps(e)) for e in examples("orderbook_snapshot.json"))
    assert first.seq == 1 and first.id == 0
    assert first.msg.yes == [(4100, 120000), (4300, 85000), (4400, 30000)]
    assert first.msg.no[-1] == (5500, 3000000)
    assert second.msg.no == []  # a side without orders is absent on the wire
    assert second.msg.yes[-1] == (1100, 31250)
    assert resync.id == 6 and resync.seq == 13


def test_delta_is_a_signed_change_with_its_own_order_id() -> None:
    deltas = [m.parse(json.dumps(e)) for e in examples("orderbook_delta.json")]
    assert (deltas[0].msg.side, deltas[0].msg.price, deltas[0].msg.delta) == ("yes", 4400, -30000)
    assert deltas[2].msg.client_order_id == "v3-dec-000185-a"
    assert deltas[3].msg.delta == 1000


def test_trade_and_whale_units() -> None:
    small, whale = (m.parse(json.dumps(e)) for e in examples("trade.json"))
    assert (small.msg.yes_price, small.msg.no_price, small.msg.count) == (4500, 5500, 50000)
    assert whale.msg.count == 2_500_000 and whale.msg.taker_book_side == "bid"


def test_trade_without_seq_is_accepted() -> None:
    entry = examples("trade.json")[0]
    del entry["seq"]
    assert m.parse(orjson.dumps(entry)).seq is None


def test_private_channel_money_is_micro_dollars() -> None:
    fill = m.parse(json.dumps(examples("fill.json")[0]))
    assert (fill.msg.fee, fill.msg.count, fill.msg.post_position) == (429000, 2500, -2500)
    order = m.parse(json.dumps(examples("user_order.json")[1]))
    assert order.msg.taker_fill_cost == 14_250_000 and order.msg.status == "executed"
    position = m.parse(json.dumps(examples("market_position.json")[1]))
    assert (position.msg.position, position.msg.realized_pnl, position.msg.position_cost) == (-1500, -100000, 8550000)


def test_ok_accepts_both_shapes_and_the_list_reply() -> None:
    update, listing = (m.parse(json.dumps(e)) for e in examples("ok.json"))
    assert update.tickers[-1] == "KXFED-27JAN-T4.50" and update.seq == 12
    assert [s.sid for s in listing.subscriptions] == [1, 3, 4]
    top_level = m.parse(b'{"type":"ok","id":4,"sid":1,"seq":12,"market_tickers":["A"]}')
    assert top_level.tickers == ["A"]


def test_error_reply_carries_its_meaning() -> None:
    error = m.parse(json.dumps(examples("error.json")[0]))
    assert error.code == 8 and error.meaning == "unknown channel name"
    odd = m.parse(b'{"type":"error","id":3,"msg":{"code":99,"msg":"something new"}}')
    assert odd.meaning == "something new"


def test_unknown_fields_are_ignored() -> None:
    entry = examples("ticker.json")[0]
    entry["msg"]["Clock"] = 123456  # seen live, undocumented
    entry["brand_new"] = True
    assert m.parse(orjson.dumps(entry)).msg.price == 4500


@pytest.mark.parametrize(
    ("frame", "kind", "sid", "seq"),
    [
        (b'{"type":"orderbook_delta","sid":1,"seq":', m.ParseError, None, None),
        (b"[1, 2]", m.ParseError, None, None),
        (b'{"type":"order_group_updates","sid":5,"seq":9,"msg":{}}', m.UnknownMessageType, 5, 9),
        (b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"A","side":"yes"}}', m.ParseError, 1, 3),
        (
            b'{"type":"orderbook_delta","sid":1,"seq":4,"msg":{"market_ticker":"A","side":"yes",'
            b'"price_dollars":"0.12345","delta_fp":"1.00"}}',
            m.ParseError,
            1,
            4,
        ),
        (b'{"type":"trade","sid":2,"msg":{"count_fp":25}}', m.ParseError, 2, None),
    ],
)
def test_bad_frames_raise_parse_error(frame: bytes, kind: type, sid: int | None, seq: int | None) -> None:
    with pytest.raises(kind) as caught:
        m.parse(frame)
    assert (caught.value.sid, caught.value.seq) == (sid, seq)


@pytest.mark.parametrize(
    "text", ["0.4500", "0.45", "1", "1.0000", "0.0001", "-0.3000", "995.7125", "0.450000", "00.5", "12345.67"]
)
def test_fast_fixed_point_agrees_with_units(text: str) -> None:
    assert dec_hook(Price, text) == parse_price(text)
    assert dec_hook(Money, text) == parse_money(text)


@pytest.mark.parametrize("text", ["25.00", "-300.00", "312.50", "0.01", "7", "1.500"])
def test_fast_count_agrees_with_units(text: str) -> None:
    assert dec_hook(Count, text) == parse_count(text)


@pytest.mark.parametrize("text", ["0.12345", "abc", "", "1e-2x", "-", "0.1.2"])
def test_fast_fixed_point_refuses_what_units_refuses(text: str) -> None:
    with pytest.raises(UnitError):
        dec_hook(Price, text)


def test_commands_match_the_examples() -> None:
    subscribe, ticker, private = examples("cmd_subscribe.json")
    built = m.command(
        1, "subscribe", m.subscribe_params(["orderbook_delta", "trade"], subscribe["params"]["market_tickers"])
    )
    assert orjson.loads(built) == subscribe
    one = m.subscribe_params(["ticker"], ["KXBTCD-26DEC3117-T99999.99"], send_initial_snapshot=True)
    assert orjson.loads(m.command(2, "subscribe", one)) == ticker
    assert (
        orjson.loads(m.command(3, "subscribe", m.subscribe_params(["fill", "user_orders", "market_positions"])))
        == private
    )
    assert orjson.loads(m.command(8, "list_subscriptions")) == examples("cmd_list_subscriptions.json")[0]
    assert orjson.loads(m.command(7, "unsubscribe", {"sids": [2]})) == examples("cmd_unsubscribe.json")[0]
