"""Staff review of whale decisions in the admin: list, filters, search, the decision
page, the review action and the CSV export; and nobody else gets in."""

import csv
import io
import re
import time
from urllib.parse import urlencode

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from trading.models import (
    ActivityEvent,
    Fill,
    Order,
    Settlement,
    StateTransition,
    WhaleDecision,
    WhaleOutcome,
    WhaleTrade,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/trading/whaledecision/"
EXPORT = "/admin/trading/whaledecision/export/"


def decision(ticker: str, *, follow: bool, reason: str, mode: str = "paper") -> WhaleDecision:
    now = time.time()
    whale = WhaleTrade.objects.create(
        trade_id=f"t-{ticker}-{reason}",
        market_ticker=ticker,
        taker_side="yes",
        yes_price=4500,
        count=2_500_000,
        notional=11_250_000_000,
        traded_at=now,
        detected_at=now,
    )
    d = WhaleDecision.objects.create(
        whale=whale,
        decision="follow" if follow else "skip",
        reason_code=reason,
        reason_text=f"because {reason}",
        inputs={"book": {"yes_bid": 4400, "yes_ask": 4500}},
        mode=mode,
        started_at=now,
        decided_at=now,
    )
    if follow:
        order = Order.objects.create(
            decision=d,
            client_order_id=f"v3-dec-{d.pk:06d}-x",
            exchange_order_id=f"ex-{d.pk}",
            market_ticker=ticker,
            side="bid",
            price=4600,
            count=1000,
            filled_count=1000,
            status="executed",
            mode=mode,
        )
        Fill.objects.create(
            trade_id=f"fill-{d.pk}",
            order=order,
            exchange_order_id=order.exchange_order_id,
            market_ticker=ticker,
            side="bid",
            yes_price=4500,
            count=1000,
            fee=170_000,
            realized_pnl=-2_500_000,
            ts=now,
        )
    return d


@pytest.fixture
def decisions():
    return [
        decision("KXBTCD-26DEC3117-T99999.99", follow=True, reason="follow"),
        decision("KXBTCD-26DEC3117-T99999.99", follow=False, reason="spread_too_wide"),
        decision("KXFED-27JAN-T4.25", follow=False, reason="cooldown", mode="live"),
    ]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_superuser(username="reviewer", password="pw-not-used")


def rows(response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_list_shows_size_market_decision_reason_mode_order_status_and_pnl(client, staff, decisions):
    client.force_login(staff)
    body = client.get(CHANGELIST).content.decode()
    for text in ("KXFED-27JAN-T4.25", "$11,250.00", "spread_too_wide", "executed", "-$2.50", "live", "Export CSV"):
        assert text in body


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision__exact=follow", {"follow"}),
        ("reason_code__exact=cooldown", {"cooldown"}),
        ("market=KXFED-27JAN-T4.25", {"cooldown"}),
        ("mode__exact=paper", {"follow", "spread_too_wide"}),
        ("reviewed__exact=0", {"follow", "spread_too_wide", "cooldown"}),
        ("q=KXBTCD", {"follow", "spread_too_wide"}),
    ],
)
def test_filters_and_search_narrow_the_list_and_its_export(client, staff, decisions, query, expected):
    client.force_login(staff)
    assert client.get(f"{CHANGELIST}?{query}").status_code == 200
    assert {row["reason_code"] for row in rows(client.get(f"{EXPORT}?{query}"))} == expected


def test_outcome_columns_and_filters(client, staff, decisions):
    followed = decisions[0].whale
    WhaleOutcome.objects.create(
        whale=followed,
        market_ticker=followed.market_ticker,
        traded_at=followed.traded_at,
        price_band="0.10-0.90",
        mid_5m=4800,  # 3 cents up from the whale's 0.45: its way
        result="yes",
        pnl_follow=521_700,
        pnl_actual=5_216_000,
    )
    client.force_login(staff)
    body = client.get(CHANGELIST).content.decode()
    for text in ("0.0300", "YES", "$0.52", "$5.22"):
        assert text in body
    page = client.get(f"{CHANGELIST}?settled=yes")
    assert page.status_code == 200 and page.context["cl"].result_count == 1
    assert client.get(f"{CHANGELIST}?settled=unknown").context["cl"].result_count == 2
    assert client.get(f"{CHANGELIST}?whale__outcome__price_band=0.10-0.90").context["cl"].result_count == 1


def test_date_filter(client, staff, decisions):
    client.force_login(staff)
    today = time.strftime("%Y-%m-%d 00:00:00+00:00", time.gmtime())
    assert len(rows(client.get(f"{EXPORT}?{urlencode({'created_at__gte': today})}"))) == 3
    assert rows(client.get(f"{EXPORT}?{urlencode({'created_at__lt': today})}")) == []


def test_decision_page_is_read_only_and_shows_whale_order_and_fills(client, staff, decisions):
    client.force_login(staff)
    body = client.get(f"{CHANGELIST}{decisions[0].pk}/change/").content.decode()
    assert "t-KXBTCD-26DEC3117-T99999.99-follow" in body  # the whale's trade id
    assert f"v3-dec-{decisions[0].pk:06d}-x" in body  # the order
    assert f"fill-{decisions[0].pk}" in body  # its fill
    assert 'name="reason_code"' not in body and 'name="decision"' not in body
    assert 'name="review_note"' in body
    assert client.get("/admin/trading/whaledecision/add/").status_code == 403


def test_decision_page_shows_how_its_market_settled(client, staff, decisions):
    client.force_login(staff)
    page = f"{CHANGELIST}{decisions[0].pk}/change/"
    assert "not settled yet" in client.get(page).content.decode()
    Settlement.objects.create(
        market_ticker="KXBTCD-26DEC3117-T99999.99",
        result="no",
        position=1000,
        cost=4_500_000,
        payout=0,
        realized_pnl=-4_500_000,
        fees=170_000,
        settled_at=time.time(),
    )
    body = client.get(page).content.decode()
    assert "settled NO" in body and "realized -$4.50" in body and "fees $0.17" in body
    assert "not settled yet" in client.get(f"{CHANGELIST}{decisions[2].pk}/change/").content.decode()


def test_decision_page_shows_its_inputs_in_dollars_and_contracts(client, staff, decisions):
    decision = decisions[0]
    decision.inputs = {
        "whale": {"yes_price": 5330, "count": 3_300, "notional": 30_426_000},
        "account": {"exposure": 954_983_700, "long_exposure": 5_000, "paused": False},
        "rules": {"whale_fraction_ppm": 10_000, "cooldown": 60.0},
    }
    decision.save()
    client.force_login(staff)
    body = client.get(f"{CHANGELIST}{decision.pk}/change/").content.decode()
    cells = re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>([^<]*)</td></tr>", body)
    assert ("whale", "count", "33 contracts") in cells
    assert ("whale", "notional", "$30.43") in cells
    assert ("whale", "yes_price", "53.3¢") in cells
    assert ("account", "exposure", "$954.98") in cells and ("account", "long_exposure", "50 contracts") in cells
    assert ("account", "paused", "False") in cells
    assert ("rules", "whale_fraction_ppm", "1 %") in cells and ("rules", "cooldown", "60 s") in cells
    assert '"count": 3300' not in body


def test_mark_reviewed_action_records_reviewer_time_and_note(client, staff, decisions):
    client.force_login(staff)
    ids = [str(d.pk) for d in decisions[:2]]
    confirm = client.post(CHANGELIST, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: ids})
    assert confirm.status_code == 200 and b"Mark reviewed" in confirm.content
    done = client.post(CHANGELIST, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: ids, "apply": "1", "note": "ok"})
    assert done.status_code == 302
    reviewed = WhaleDecision.objects.filter(reviewed=True)
    assert {str(d.pk) for d in reviewed} == set(ids)
    assert all(d.reviewed_by == staff and d.reviewed_at and d.review_note == "ok" for d in reviewed)
    assert {r["reviewed_by"] for r in rows(client.get(f"{EXPORT}?reviewed__exact=1"))} == {"reviewer"}


def test_csv_export_has_one_row_per_decision(client, staff, decisions):
    client.force_login(staff)
    response = client.get(EXPORT)
    assert response["Content-Type"] == "text/csv"
    exported = rows(response)
    assert [int(r["id"]) for r in exported] == [d.pk for d in decisions]
    assert exported[0]["realized_pnl"] == "-2.50" and exported[0]["order_status"] == "executed"


def test_other_admin_pages_for_staff(client, staff, decisions):
    StateTransition.objects.create(from_state="ready", to_state="trading", reason="test")
    ActivityEvent.objects.create(type="system_activity", ts=time.time(), data={"message": "hello"})
    client.force_login(staff)
    models = (
        "whaletrade",
        "whaleoutcome",
        "order",
        "fill",
        "position",
        "settlement",
        "riskaccount",
        "statetransition",
        "activityevent",
    )
    for model in models:
        assert client.get(f"/admin/trading/{model}/").status_code == 200, model


@pytest.mark.parametrize(
    "url", [CHANGELIST, EXPORT, "/admin/trading/order/", "/admin/trading/activityevent/", "/admin/"]
)
def test_non_staff_cannot_reach_the_admin(client, user, decisions, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.logout()
    assert client.get(url).status_code == 302


def test_non_staff_cannot_run_the_review_action(client, user, decisions):
    client.force_login(user)
    ids = [str(d.pk) for d in decisions]
    client.post(CHANGELIST, {"action": "mark_reviewed", ACTION_CHECKBOX_NAME: ids, "apply": "1", "note": "x"})
    assert not WhaleDecision.objects.filter(reviewed=True).exists()


def test_csv_export_cells_from_the_exchange_cannot_become_formulas(client, staff, decisions):
    hostile = decision('=HYPERLINK("http://x","y")', follow=True, reason="@SUM(A1)")
    WhaleDecision.objects.filter(pk=hostile.pk).update(reason_text="-2+3", review_note="\tnote")
    Order.objects.filter(decision=hostile).update(error="+cmd|' /C calc'!A0", client_order_id="\rid")
    client.force_login(staff)

    row = {int(r["id"]): r for r in rows(client.get(EXPORT))}[hostile.pk]

    assert row["market"] == '\'=HYPERLINK("http://x","y")'
    assert row["reason_code"] == "'@SUM(A1)"
    assert row["reason_text"] == "'-2+3"
    assert row["order_error"] == "'+cmd|' /C calc'!A0"
    assert row["client_order_id"] == "'\rid"
    assert row["review_note"] == "'\tnote"
    assert row["realized_pnl"] == "-2.50", "numbers we format stay numbers"


@pytest.mark.parametrize(
    "query", ["id__gt=abc", "created_at__gte=yesterday", "decided_at__lt=x", "reason_text__regex=%28"]
)
def test_csv_export_with_a_bad_filter_value_is_a_400(client, staff, decisions, query, caplog):
    client.force_login(staff)
    response = client.get(f"{EXPORT}?{query}")
    assert response.status_code == 400
    assert b"Bad filter" in response.content
    assert "CSV export refused" in caplog.text
