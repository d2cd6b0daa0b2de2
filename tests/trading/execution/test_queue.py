"""The whale_queue event the workers publish after each decision: the same whale
shape as everywhere else, and bounded however long the queue gets."""

import json

import pytest

from tests.trading.execution.conftest import make_whale
from trading import selectors
from trading.execution import broadcast
from trading.models import ActivityEvent, Order, WhaleDecision, WhaleTrade

pytestmark = [pytest.mark.django_db]


def test_queue_rows_have_the_whale_dict_shape():
    queued = make_whale("KXTEST-A")
    decided = make_whale("KXTEST-B", taker_side="no", yes_price=3000)
    decided.status = WhaleTrade.Status.DECIDED
    decided.save()
    WhaleDecision.objects.create(
        whale=decided, decision="skip", reason_code="cooldown", reason_text="Cooldown.", mode="paper",
        started_at=1.0, decided_at=2.0,
    )  # fmt: skip
    whales = {w.pk: w for w in WhaleTrade.objects.select_related("decision")}

    data = selectors.whale_queue_data()

    assert data["whales"] == [selectors.whale_dict(whales[decided.pk]), selectors.whale_dict(whales[queued.pk])]
    assert data["waiting"] == 1


def test_queue_shows_the_newest_waiting_whales_and_counts_them_all():
    made = [make_whale("KXTEST-A") for _ in range(5)]
    done = make_whale("KXTEST-A")
    WhaleTrade.objects.filter(pk=done.pk).update(status=WhaleTrade.Status.FAILED)

    data = selectors.whale_queue_data(recent=30, waiting_limit=3)

    assert [w["whale_id"] for w in data["whales"]] == [done.pk, made[4].pk, made[3].pk, made[2].pk]
    assert data["waiting"] == 5
    replay = selectors.history_replay()  # what a browser that connects now is given
    assert replay["waiting"] == 5 and replay["whales"] == selectors.whale_queue_data()["whales"]


def test_published_queue_event_is_the_changed_whale_and_the_waiting_count():
    """Not the whole queue: with 120 whales waiting the event still carries one row."""
    made = [make_whale("KXTEST-A") for _ in range(120)]
    broadcast.whale_queue(made[5].pk)
    event = ActivityEvent.objects.get(type="whale_queue")
    assert event.data["waiting"] == 120
    assert event.data["whales"] == [selectors.whale_dict(WhaleTrade.objects.get(pk=made[5].pk))]
    assert len(json.dumps(event.data)) < 1_000


def _decide(whale, decision, order_status=None, filled=0):
    whale.status = WhaleTrade.Status.DECIDED
    whale.save()
    made = WhaleDecision.objects.create(
        whale=whale, decision=decision, reason_code="x", reason_text="X.", mode="paper", started_at=1.0, decided_at=2.0,
    )  # fmt: skip
    if order_status is not None:
        Order.objects.create(
            decision=made, client_order_id=f"c{whale.pk}", market_ticker=whale.market_ticker, side="bid",
            price=5000, count=500, filled_count=filled, status=order_status, mode="paper",
        )  # fmt: skip


def test_each_whale_row_carries_its_current_stage():
    """A reloaded page shows the stage the live stages left: filled, skipped, placed."""
    queued, failed, skipped, filled, resting, pending, rejected = (make_whale("KXTEST-A") for _ in range(7))
    WhaleTrade.objects.filter(pk=failed.pk).update(status=WhaleTrade.Status.FAILED)
    _decide(skipped, "skip")
    _decide(filled, "follow", Order.Status.EXECUTED, filled=500)
    _decide(resting, "follow", Order.Status.RESTING)
    _decide(pending, "follow", Order.Status.PENDING)
    _decide(rejected, "follow", Order.Status.REJECTED)

    stages = {w["whale_id"]: w["stage"] for w in selectors.history_replay()["whales"]}

    assert stages == {
        queued.pk: "queued",
        failed.pk: "failed",
        skipped.pk: "skipped",
        filled.pk: "filled",
        resting.pk: "order_placed",
        pending.pk: "decided",
        rejected.pk: "failed",
    }
