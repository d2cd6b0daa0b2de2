"""The whale_queue event the workers publish after each decision: the same whale
shape as everywhere else, and bounded however long the queue gets."""

import pytest

from tests.trading.execution.conftest import make_whale
from trading import selectors
from trading.execution import broadcast
from trading.models import ActivityEvent, WhaleDecision, WhaleTrade

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


def test_published_queue_carries_the_waiting_count():
    make_whale("KXTEST-A")
    broadcast.whale_queue()
    event = ActivityEvent.objects.get(type="whale_queue")
    assert event.data["waiting"] == 1 and len(event.data["whales"]) == 1
