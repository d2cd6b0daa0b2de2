"""The dashboard as a trader uses it: a real Chromium, a real daphne, Postgres and Redis."""

import os
import re
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.trading.execution.conftest import make_whale
from trading import events, publisher
from trading.execution import broadcast
from trading.feed import heartbeat
from trading.models import ActivityEvent, WhaleDecision, WhaleTrade

pytestmark = [
    pytest.mark.browser,
    pytest.mark.needs_postgres,
    pytest.mark.needs_redis,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct-horse-battery-9"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


@pytest.fixture
def trader(django_user_model):
    return django_user_model.objects.create_user(username="viewer", password=PASSWORD)


@pytest.fixture
def boss(django_user_model):
    user = django_user_model.objects.create_user(username="boss", password=PASSWORD, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="control_trading", content_type__app_label="trading"))
    return user


def activity(message: str, source: str = "test") -> int:
    event_id = publisher.publish(events.SYSTEM_ACTIVITY, events.activity(source=source, message=message))
    publisher.get_publisher().flush()
    return event_id


def whale_through_execution() -> WhaleTrade:
    """A whale and its decision, announced by the execution side's own broadcasts."""
    now = time.time()
    whale = WhaleTrade.objects.create(
        trade_id=f"browser-{now}",
        market_ticker="KXBROWSER-26",
        taker_side="yes",
        yes_price=4600,
        count=250_000,
        notional=1_150_000_000,
        traded_at=now - 2,
        detected_at=now - 1,
    )
    broadcast.whale_queue()
    broadcast.whale_stage(broadcast.RECEIVED, whale)
    broadcast.whale_stage(broadcast.EVALUATING, whale)
    decision = WhaleDecision.objects.create(
        whale=whale,
        decision="skip",
        reason_code="spread_too_wide",
        reason_text="Spread $0.09 is over the $0.05 limit.",
        mode="paper",
        started_at=now,
        decided_at=now,
    )
    whale.status = WhaleTrade.Status.DECIDED
    whale.save(update_fields=["status"])
    broadcast.whale_stage(broadcast.SKIPPED, whale, decision)
    publisher.get_publisher().flush()
    return whale


def test_console_fills_and_a_whale_arrives_with_its_decision(page, boss):
    activity("before login")
    log_in(page, "boss", PASSWORD)
    console = page.locator("#console")
    expect(console).to_contain_text("before login")

    for n in range(5):
        activity(f"live line {n}")
    expect(console.locator("li")).to_have_count(6)
    expect(console.locator("li").last).to_contain_text("live line 4")
    expect(console.locator("li").last).to_be_visible()

    whale = whale_through_execution()
    row = page.locator(f'#whale-rows tr[data-whale="{whale.pk}"]')
    expect(row).to_contain_text("KXBROWSER-26")
    expect(row).to_contain_text("2,500")  # 250,000 hundredths of a contract
    expect(row).to_contain_text("46¢")
    expect(row.locator(".stage")).to_have_text("skipped")
    expect(row.locator(".decision")).to_have_text("skip")
    expect(row).to_contain_text("Spread $0.09 is over the $0.05 limit.")
    link = row.locator("a")
    expect(link).to_have_attribute("href", re.compile(rf"/admin/trading/whaledecision/{whale.decision.pk}/change/$"))

    # Filter by source: only the matching lines stay visible.
    activity("a backfill line", source="backfill")
    expect(console).to_contain_text("a backfill line")
    page.select_option("#kind-filter", "backfill")
    expect(console.locator("li:visible")).to_have_count(1)
    page.select_option("#kind-filter", "")

    # Pause scroll: new lines still arrive, the view stays where the reader is.
    page.click("#pause-scroll")
    expect(page.locator("#pause-scroll")).to_have_attribute("aria-pressed", "true")
    top = page.evaluate("document.getElementById('console').scrollTop")
    for n in range(30):
        activity(f"paused line {n}")
    expect(console.locator("li").last).to_contain_text("paused line 29")
    assert page.evaluate("document.getElementById('console').scrollTop") == top

    # V3_UPDATE_SCREENSHOT=1 refreshes the README's picture from this very page.
    if os.environ.get("V3_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_whale_queue_counts_waiting_whales_beyond_the_rows_it_shows(page, trader):
    log_in(page, "viewer", PASSWORD)
    for _ in range(130):
        make_whale("KXBACKLOG-26")
    broadcast.whale_queue()
    publisher.get_publisher().flush()
    expect(page.locator("#whale-count")).to_have_text("130 waiting")
    expect(page.locator("#whale-rows tr")).to_have_count(100)


def test_a_settled_position_shows_its_payout_and_realized_pnl(page, trader):
    from trading.exchange import SettlementReport
    from trading.execution.settlements import record_settlement
    from trading.models import Position

    log_in(page, "viewer", PASSWORD)
    # 10 YES bought at 0.40 ($4.00), settled YES: paid $10.00, realized $6.00.
    Position.objects.create(market_ticker="KXSETTLE-26", position=1_000, cost=4_000_000)
    record_settlement(report=SettlementReport(market_ticker="KXSETTLE-26", result="yes", settled_at=time.time()))
    publisher.get_publisher().flush()
    expect(page.locator("#settled")).to_have_text("$6.00")
    expect(page.locator("#realized")).to_have_text("$6.00")
    row = page.locator("#settlement-rows tr").first
    expect(row).to_contain_text("KXSETTLE-26")
    expect(row).to_contain_text("YES")
    expect(row).to_contain_text("$10.00")


def test_page_that_reconnects_at_once_stays_online(page, trader):
    """A dropped socket with the server still up: the page is back within its first backoff,
    before the countdown's next tick, which must not mark it offline again."""
    sockets = []

    def through(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/events/"), through)
    log_in(page, "viewer", PASSWORD)
    sockets[-1].close(code=1001)  # dropped, as by a proxy or a network change
    page.wait_for_function("document.getElementById('conn').dataset.conn !== 'online'")
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online")
    assert len(sockets) == 2
    page.wait_for_timeout(1_500)  # past the countdown's one-second tick
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online", timeout=1)
    activity("after the quick reconnect")
    expect(page.locator("#console")).to_contain_text("after the quick reconnect")


def test_page_reconnects_after_a_server_restart_and_resumes_from_its_last_event(page, server, trader):
    log_in(page, "viewer", PASSWORD)
    activity("before the restart")
    expect(page.locator("#console")).to_contain_text("before the restart")

    server.stop()
    expect(page.locator("#conn")).to_have_attribute("data-conn", re.compile("offline|connecting"))
    expect(page.locator("#conn")).to_contain_text(re.compile("offline|reconnecting"))
    # Stored while no server runs: only the resume by event id can bring it.
    activity("while the server was down")

    server.start()
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online", timeout=60_000)
    console = page.locator("#console")
    expect(console).to_contain_text("while the server was down")
    activity("after the restart")
    expect(console).to_contain_text("after the restart")
    # Nothing twice, nothing lost.
    messages = console.locator(".msg").all_inner_texts()
    assert messages == ["before the restart", "while the server was down", "after the restart"]


def drop_socket_on_demand(page) -> list:
    """Route the page's sockets through the test; ``sockets[-1].close()`` drops the current one."""
    sockets = []

    def through(socket):
        socket.connect_to_server()
        sockets.append(socket)

    page.route_web_socket(re.compile(r"/ws/events/"), through)
    return sockets


def test_a_catch_up_over_a_megabyte_arrives_in_pages_in_order(page, trader):
    sockets = drop_socket_on_demand(page)
    log_in(page, "viewer", PASSWORD)
    activity("before the drop")
    console = page.locator("#console")
    expect(console).to_contain_text("before the drop")
    # Stored, not broadcast: only the catch-up can bring them, ~1.3 MB of it.
    padding = "x" * 2_000
    for n in range(600):
        publisher.store(
            events.SYSTEM_ACTIVITY, events.activity(source="test", message=f"missed {n} {padding}"), time.time()
        )
    sockets[-1].close(code=1001)
    expect(console).to_contain_text("missed 599 ")
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online")
    messages = [text.split(" ")[:2] for text in console.locator(".msg").all_inner_texts()]
    assert messages == [["before", "the"]] + [["missed", str(n)] for n in range(600)]
    activity("after the catch-up")
    expect(console.locator("li").last).to_contain_text("after the catch-up")


def test_a_catch_up_older_than_the_history_starts_over_and_says_so(page, trader):
    sockets = drop_socket_on_demand(page)
    log_in(page, "viewer", PASSWORD)
    activity("seen before the gap")
    console = page.locator("#console")
    expect(console).to_contain_text("seen before the gap")
    ActivityEvent.objects.all().delete()  # pruned: what the page saw and what followed it
    publisher.store(events.SYSTEM_ACTIVITY, events.activity(source="test", message="after the gap"), time.time())
    sockets[-1].close(code=1001)
    expect(console).to_contain_text("missed more events than the history keeps")
    expect(console).to_contain_text("after the gap")
    expect(console).not_to_contain_text("seen before the gap")


def test_losing_the_control_permission_hides_the_controls_and_the_page_watches_on(page, boss):
    log_in(page, "boss", PASSWORD)
    expect(page.get_by_role("button", name="Pause", exact=True)).to_be_visible()
    boss.user_permissions.clear()
    expect(page.locator("#controls")).to_be_hidden()
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online")
    activity("still watching")
    expect(page.locator("#console")).to_contain_text("still watching")


def test_a_deactivated_users_page_goes_to_the_login_page(page, trader):
    log_in(page, "viewer", PASSWORD)
    trader.is_active = False
    trader.save()
    expect(page).to_have_url(re.compile(r"/login/"))


def test_user_without_the_permission_sees_no_controls(page, trader):
    log_in(page, "viewer", PASSWORD)
    expect(page.locator("#conn")).to_have_attribute("data-conn", "online")
    expect(page.get_by_role("button", name="Pause", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Kill…")).to_have_count(0)
    expect(page.locator("#controls")).to_have_count(0)


def test_kill_asks_for_confirmation_and_cancel_does_nothing(page, boss):
    log_in(page, "boss", PASSWORD)
    # By keyboard alone: focus the button, Enter opens the confirmation, Escape cancels it.
    page.get_by_role("button", name="Kill…").focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#kill-dialog")
    expect(dialog).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#console")).not_to_contain_text("Kill switch")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(page.locator("#control-result")).to_have_text("pause: done")
    expect(page.locator("#console")).to_contain_text("Trading paused by boss.")


def test_phone_width_has_no_sideways_scrolling(page, boss):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "boss", PASSWORD)
    whale_through_execution()
    expect(page.locator("#whale-rows tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    expect(page.get_by_role("button", name="Kill…")).to_be_in_viewport()


def test_status_bar_shows_the_feed_runner_down_when_its_heartbeat_stops(page, trader):
    # The last beat, dated 5 s ahead: the runner counts as alive through a slow log-in, then dies.
    heartbeat.beat(market_set="most-active:10", state="trading", now=time.time() + 5)
    publisher.publish(events.TRADER_STATUS, {"state": "trading", "markets": [], "components": []})
    publisher.get_publisher().flush()
    log_in(page, "viewer", PASSWORD)
    expect(page.locator("#state")).to_have_attribute("data-state", "trading")
    # The web process notices FEED_HEARTBEAT_TTL (3 s) after the last beat, within a second.
    expect(page.locator("#state")).to_have_attribute("data-state", "down", timeout=20_000)
    expect(page.locator("#components")).to_contain_text("feed_runner down")
    expect(page.locator("#exchange")).to_have_attribute("data-ok", "no")
