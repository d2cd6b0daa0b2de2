"""One whale end to end against the simulator over HTTP: decision, order, fills,
position and balance; every skip reason the exchange can produce; idempotency;
the kill switch; reconciliation after a lost placement."""

import time

import pytest
from django.conf import settings as django_settings

from tests.configs import configure
from tests.trading.execution.conftest import follow_whale, make_whale, resting_whale
from trading.execution import control, loop, reconciliation, risk, services
from trading.execution.gateway import gateway
from trading.execution.rules import Reason
from trading.kalshi.messages import UserFill, parse
from trading.kalshi.parsing import fill_from_ws
from trading.models import ActivityEvent, Fill, Order, Position, RiskAccount, WhaleDecision, WhaleTrade

pytestmark = [pytest.mark.needs_postgres, pytest.mark.django_db]


def test_whale_follow_order_fill_position_and_balance(simulator):
    reconciliation.reconcile()
    opening = RiskAccount.objects.get().balance
    assert opening == 1_000_000_000  # the simulator's $1,000
    _, _, ask, _ = simulator.best()

    decision = follow_whale(simulator)

    assert decision.decision == "follow" and decision.reason_code == Reason.FOLLOW
    assert decision.inputs["book"]["yes_ask"] == ask and decision.inputs["limits"]["max_open_orders"] == 100
    order = Order.objects.get(decision=decision)
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500
    assert order.exchange_order_id and order.client_order_id.startswith(f"v3-dec-{decision.pk:06d}-")
    fill = Fill.objects.get(order=order)
    assert (fill.side, fill.yes_price, fill.count) == ("bid", ask, 500)
    position = Position.objects.get(market_ticker=simulator.ticker)
    assert (position.position, position.cost) == (500, ask * 500)
    account = RiskAccount.objects.get()
    assert account.balance == opening - ask * 500 - fill.fee
    # Our books agree with the exchange's.
    sim_account = simulator.on_loop(lambda: simulator.exchange.account)
    assert account.balance == sim_account.balance
    assert sim_account.positions[simulator.ticker].position == position.position
    assert reconciliation.reconcile().changes == []
    stages = [e.data["stage"] for e in ActivityEvent.objects.filter(type="whale_processing").order_by("id")]
    assert stages == ["received", "evaluating", "decided", "order_placed", "filled"]
    queues = [e.data["whales"] for e in ActivityEvent.objects.filter(type="whale_queue").order_by("id")]
    assert [q[0]["status"] for q in queues] == ["decided"]
    assert queues[-1][0]["decision"]["reason_code"] == "follow"
    state = ActivityEvent.objects.filter(type="trading_state").last().data
    assert state["version"] == RiskAccount.objects.get().version and state["balance"] == account.balance
    assert state["positions"][0]["position"] == 500
    assert WhaleTrade.objects.get(pk=decision.whale_id).status == WhaleTrade.Status.DECIDED


def test_duplicate_task_places_one_order(simulator):
    decision = follow_whale(simulator)
    again = services.process_whale(whale_id=decision.whale_id)
    assert again.pk == decision.pk
    assert WhaleDecision.objects.count() == 1 and Order.objects.count() == 1
    assert len(simulator.orders(Order.objects.get().client_order_id)) == 1


def _pause(simulator, settings):
    control.pause(user="test")


def _kill(simulator, settings):
    control.kill(user="test")


def _stale(simulator, settings):
    configure(settings, "EXECUTION", rules={"max_book_age": 0.0})


def _closing(simulator, settings):
    import datetime

    market = simulator.exchange.markets[simulator.ticker]
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=60)
    simulator.on_loop(lambda: setattr(market, "close_time", soon))


def _spread(simulator, settings):
    configure(settings, "EXECUTION", rules={"max_spread": 50})  # the simulator's book is one cent wide


def _empty_book(simulator, settings):
    book = simulator.exchange.books[simulator.ticker]
    simulator.on_loop(book.no.clear)  # no NO bids: no YES ask


def _small(simulator, settings):
    configure(settings, "EXECUTION", rules={"fixed_count": 50})


def _exposure(simulator, settings):
    configure(settings, "EXECUTION", limits={"max_exposure": 1_000_000})  # $1; five contracts cost more


def _daily_loss(simulator, settings):
    Fill.objects.create(
        trade_id="earlier-loss",
        exchange_order_id="x",
        market_ticker="OTHER",
        side="bid",
        yes_price=5000,
        count=100,
        realized_pnl=-settings.EXECUTION.limits.max_daily_loss,
        ts=time.time(),
    )


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (_pause, Reason.PAUSED),
        (_kill, Reason.KILL_SWITCH),
        (_stale, Reason.STALE_BOOK),
        (_closing, Reason.MARKET_CLOSING),
        (_spread, Reason.SPREAD_TOO_WIDE),
        (_empty_book, Reason.EMPTY_BOOK),
        (_small, Reason.SIZE_TOO_SMALL),
        (_exposure, Reason.EXPOSURE_LIMIT),
        (_daily_loss, Reason.DAILY_LOSS_LIMIT),
    ],
)
def test_skip_reason_reached_through_the_service(simulator, settings, setup, reason):
    setup(simulator, settings)
    decision = follow_whale(simulator)
    assert (decision.decision, decision.reason_code) == ("skip", reason)
    assert decision.reason_text
    assert not Order.objects.exists() and simulator.orders() == []
    stages = [e.data["stage"] for e in ActivityEvent.objects.filter(type="whale_processing").order_by("id")]
    assert stages[-2:] == ["decided", "skipped"]


def test_below_threshold_skips_without_reading_the_book(simulator):
    whale = make_whale(simulator.ticker, notional=1_000)
    decision = services.process_whale(whale_id=whale.pk)
    assert decision.reason_code == Reason.BELOW_THRESHOLD and decision.inputs["book"] is None


def test_unknown_market_is_book_unavailable(simulator):
    whale = make_whale("KXNOPE-26DEC31-T1")
    decision = services.process_whale(whale_id=whale.pk)
    assert decision.reason_code == Reason.BOOK_UNAVAILABLE


def test_cooldown_position_rate_and_open_order_limits(simulator, settings):
    configure(settings, "EXECUTION", rules={"cooldown": 60})
    assert follow_whale(simulator).decision == "follow"
    assert follow_whale(simulator).reason_code == Reason.COOLDOWN

    configure(settings, "EXECUTION", rules={"cooldown": 0})
    configure(settings, "EXECUTION", limits={"max_position": 500})  # the first follow already holds five contracts
    assert follow_whale(simulator).reason_code == Reason.POSITION_LIMIT

    configure(settings, "EXECUTION", limits={"max_position": 100_000})
    configure(settings, "EXECUTION", limits={"max_orders_per_minute": 1})
    assert follow_whale(simulator).reason_code == Reason.RATE_LIMIT

    configure(settings, "EXECUTION", limits={"max_orders_per_minute": 100})
    assert resting_whale(simulator, settings).decision == "follow"
    configure(settings, "EXECUTION", limits={"max_open_orders": 1})
    assert resting_whale(simulator, settings).reason_code == Reason.OPEN_ORDERS_LIMIT


def test_kill_switch_cancels_open_orders_and_stops_new_ones(simulator, settings):
    decision = resting_whale(simulator, settings)
    order = Order.objects.get(decision=decision)
    assert order.status == Order.Status.RESTING
    assert simulator.orders(order.client_order_id)[0].status == "resting"

    result = control.kill(user="alice")

    assert order.client_order_id in result.canceled and not result.failed
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELED
    assert simulator.orders(order.client_order_id)[0].status == "canceled"
    assert resting_whale(simulator, settings).reason_code == Reason.KILL_SWITCH
    messages = [e.data["message"] for e in ActivityEvent.objects.filter(type="system_activity")]
    assert "Kill switch turned on by alice." in messages
    control.resume(user="alice")
    assert resting_whale(simulator, settings).decision == "follow"


def _decide_follow(simulator) -> Order:
    """A follow decided and its order saved, as a worker does just before sending it."""
    _, _, ask, _ = simulator.best()
    whale = make_whale(simulator.ticker, yes_price=ask)
    verdict, inputs = services.evaluate_whale(whale, gateway(), django_settings.EXECUTION.rules)
    decided = risk.decide(
        whale=whale,
        verdict=verdict,
        inputs=inputs,
        mode="paper",
        started_at=time.time(),
        config=django_settings.EXECUTION.rules,
        limits=django_settings.EXECUTION.limits,
    )
    return decided.order


def _send_without_recording(order: Order) -> None:
    """What a worker killed between the exchange's answer and our commit leaves behind."""
    loop.run(gateway().place(services.place_request(order, django_settings.EXECUTION.rules)))


def test_reconciliation_repairs_an_order_placed_but_not_recorded(simulator):
    order = _decide_follow(simulator)
    _send_without_recording(order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING

    report = reconciliation.reconcile(grace=0)

    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.exchange_order_id and order.filled_count == 500
    assert any(c["what"] == "pending order found on the exchange" for c in report.changes)
    assert Position.objects.get(market_ticker=simulator.ticker).position == 500
    services.process_whale(whale_id=order.decision.whale_id)
    assert len(simulator.orders(order.client_order_id)) == 1 and len(simulator.orders()) == 1
    activity = ActivityEvent.objects.filter(type="system_activity").last()
    assert activity.data["message"].startswith("Reconciliation:") and activity.data["details"]["changes"]


def test_retried_placement_of_a_landed_order_records_it_without_a_second(simulator):
    order = _decide_follow(simulator)
    _send_without_recording(order)

    services.process_whale(whale_id=order.decision.whale_id)  # the redelivered task

    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500
    assert len(simulator.orders()) == 1


def test_pending_order_that_never_reached_the_exchange_is_sent_while_its_decision_is_fresh(simulator):
    order = _decide_follow(simulator)  # the worker died before sending it

    report = reconciliation.reconcile(grace=0)

    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500 and not order.error
    assert any(c["what"] == "pending order had not reached the exchange" for c in report.changes)
    services.process_whale(whale_id=order.decision.whale_id)
    reconciliation.reconcile(grace=0)
    assert len(simulator.orders(order.client_order_id)) == 1 and len(simulator.orders()) == 1


def test_pending_order_of_an_expired_decision_is_rejected_with_that_reason_and_never_sent(simulator, settings):
    order = _decide_follow(simulator)
    configure(settings, "EXECUTION", decision_ttl=0)

    reconciliation.reconcile(grace=0)

    order.refresh_from_db()
    assert order.status == Order.Status.REJECTED and order.error == services.DECISION_EXPIRED
    services.process_whale(whale_id=order.decision.whale_id)
    assert services.execute_order(order_id=order.pk).status == Order.Status.REJECTED
    assert simulator.orders() == []


def test_landed_order_of_an_expired_decision_is_adopted_not_rejected(simulator, settings):
    order = _decide_follow(simulator)
    _send_without_recording(order)
    configure(settings, "EXECUTION", decision_ttl=0)

    services.execute_order(order_id=order.pk)  # the task redelivered after the decision expired

    order.refresh_from_db()
    assert order.status == Order.Status.EXECUTED and order.filled_count == 500 and not order.error
    assert len(simulator.orders()) == 1


def test_order_the_exchange_refuses_is_rejected_with_its_reason(simulator):
    simulator.on_loop(lambda: setattr(simulator.exchange.account, "balance", 0))

    decision = follow_whale(simulator)

    order = Order.objects.get(decision=decision)
    assert order.status == Order.Status.REJECTED and order.error.startswith("insufficient_balance")
    assert simulator.orders() == []


def test_reconciliation_fixes_local_drift_and_says_what_changed(simulator):
    follow_whale(simulator)
    Position.objects.filter(market_ticker=simulator.ticker).update(position=12_300)
    RiskAccount.objects.update(balance=1)
    version = RiskAccount.objects.get().version

    report = reconciliation.reconcile()

    whats = {c["what"] for c in report.changes}
    assert whats == {"position", "balance"}
    assert Position.objects.get(market_ticker=simulator.ticker).position == 500
    account = RiskAccount.objects.get()
    assert account.balance == simulator.on_loop(lambda: simulator.exchange.account.balance)
    assert account.version > version and account.reconciled_at


def test_websocket_fill_is_recorded_once(simulator):
    decision = follow_whale(simulator)
    order = Order.objects.get(decision=decision)
    fill = Fill.objects.get(order=order)
    Fill.objects.all().delete()
    price = f"{fill.yes_price / 10000:.4f}"
    frame = (
        f'{{"type":"fill","sid":4,"msg":{{"trade_id":"{fill.trade_id}","order_id":"{order.exchange_order_id}",'
        f'"client_order_id":"{order.client_order_id}","market_ticker":"{simulator.ticker}","exchange_index":0,'
        f'"is_taker":true,"yes_price_dollars":"{price}","count_fp":"5.00","fee_cost":"0.010000",'
        f'"outcome_side":"yes","book_side":"bid","ts_ms":1795532402900}}}}'
    )
    message = parse(frame)
    assert isinstance(message, UserFill)
    assert services.record_fill(report=fill_from_ws(message.msg)) is True
    assert services.record_fill(report=fill_from_ws(message.msg)) is False
    assert Fill.objects.get().order == order


def test_paper_mode_on_demo_fills_against_the_book_copy_without_sending(simulator, settings):
    from trading.kalshi.sim_keys import ensure_sim_keys

    keys = ensure_sim_keys(settings.KALSHI.sim_dir)
    configure(settings, "KALSHI", env="demo", api_key_id=keys.key_id, private_key_path=str(keys.private_key_path))
    reconciliation.reconcile()
    assert RiskAccount.objects.get().balance == settings.EXECUTION.paper_balance
    _, _, ask, _ = simulator.best()

    decision = follow_whale(simulator)

    order = Order.objects.get(decision=decision)
    assert order.status == Order.Status.EXECUTED and order.exchange_order_id.startswith("paper-")
    assert Position.objects.get(market_ticker=simulator.ticker).position == 500
    fee = Fill.objects.get(order=order).fee
    assert RiskAccount.objects.get().balance == settings.EXECUTION.paper_balance - ask * 500 - fee
    assert simulator.orders() == []


def test_whale_never_handed_to_a_worker_is_decided_by_reconciliation(simulator):
    whale = make_whale(simulator.ticker)
    WhaleTrade.objects.filter(pk=whale.pk).update(traded_at=time.time() - 120, detected_at=time.time() - 120)

    report = reconciliation.reconcile(grace=30)

    decision = WhaleDecision.objects.get(whale=whale)
    assert decision.reason_code == Reason.WHALE_TOO_OLD
    assert {"what": "undecided whale decided late", "whale_id": whale.pk, "reason_code": "whale_too_old"} in (
        report.changes
    )


def test_reconciliation_reads_fills_an_executed_order_is_missing(simulator):
    decision = follow_whale(simulator)
    Fill.objects.all().delete()
    Order.objects.update(filled_count=0)

    report = reconciliation.reconcile()

    order = Order.objects.get(decision=decision)
    assert order.filled_count == 500 and order.fills.count() == 1
    assert any(c["what"] == "order state from the exchange" and c["fills_recorded"] == 1 for c in report.changes)


def test_one_reconciliation_at_a_time(simulator, settings):
    import psycopg

    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [reconciliation.LOCK_KEY])
        assert reconciliation.reconcile().skipped
        other.execute("SELECT pg_advisory_unlock(%s)", [reconciliation.LOCK_KEY])
    assert not reconciliation.reconcile().skipped
