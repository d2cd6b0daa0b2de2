"""The dashboard as a trader uses it: a real Chromium, a real web server (uvicorn, then daphne), Postgres and Redis."""

import os
import re
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import caches
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.trading.execution.conftest import make_whale
from trading import events, publisher
from trading.execution import broadcast
from trading.feed import heartbeat, price_history
from trading.feed.state import record_transition
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
    broadcast.whale_queue(whale.pk)
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


def test_reloaded_page_shows_each_whales_current_stage(page, trader):
    """The replay carries each whale's stage: a skipped whale is still "skipped" after a
    reload, not the "decided" of its row's status."""
    log_in(page, "viewer", PASSWORD)
    whale = whale_through_execution()
    stage = page.locator(f'#whale-rows tr[data-whale="{whale.pk}"] .stage')
    expect(stage).to_have_text("skipped")
    page.reload()
    expect(stage).to_have_text("skipped")


def test_whale_queue_counts_waiting_whales_beyond_the_rows_it_shows(page, trader):
    log_in(page, "viewer", PASSWORD)
    made = [make_whale("KXBACKLOG-26") for _ in range(130)]
    for whale in made:
        broadcast.whale_queue(whale.pk)
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


def test_pause_and_resume_show_on_the_state_pill_before_the_runner_reports(page, boss):
    """The switch takes effect on the next decision; the pill says so at once, not when the
    feed runner next reports (no runner runs here, so without that it would never change)."""
    record_transition(from_state="ready", to_state="trading", reason="trading enabled", metadata={})
    publisher.get_publisher().flush()
    log_in(page, "boss", PASSWORD)
    pill = page.locator("#state")
    expect(pill).to_have_attribute("data-state", "trading")
    page.get_by_role("button", name="Pause", exact=True).click()
    expect(pill).to_have_attribute("data-state", "paused")
    page.get_by_role("button", name="Resume", exact=True).click()
    expect(pill).to_have_attribute("data-state", "trading")


def test_watch_box_takes_any_case_and_says_when_a_ticker_is_unknown(page, trader):
    publisher.publish(events.TRADER_STATUS, {"state": "trading", "markets": ["KXWATCH-26"], "components": []})
    publisher.get_publisher().flush()
    log_in(page, "viewer", PASSWORD)
    expect(page.locator("#market-list option[value='KXWATCH-26']")).to_have_count(1)
    page.fill("#market-input", " kxwatch-26 ")
    page.click("#market-form button")
    expect(page.locator('.market[data-ticker="KXWATCH-26"]')).to_have_count(1)
    page.fill("#market-input", "KXNOSUCH-1")
    page.click("#market-form button")
    expect(page.locator("#market-error")).to_have_text("KXNOSUCH-1 is not one of the 1 markets the feed runner follows")
    expect(page.locator('.market[data-ticker="KXNOSUCH-1"]')).to_have_count(0)
    expect(page.locator('.market[data-ticker="KXWATCH-26"]')).to_have_count(1)


def test_a_watched_markets_chart_starts_with_the_runners_recent_prices(page, trader):
    """Not "waiting for trades…": the subscription brings the history the feed runner saved."""
    ticker = "KXCHART-26"
    now = time.time()
    key = price_history.key(ticker)
    caches[price_history.CACHE].set(key, [[now - 500 + 2 * n, 4_000 + n] for n in range(240)])
    try:
        publisher.publish(events.TRADER_STATUS, {"state": "trading", "markets": [ticker], "components": []})
        publisher.get_publisher().flush()
        log_in(page, "viewer", PASSWORD)
        page.fill("#market-input", ticker)
        page.click("#market-form button")
        expect(page.locator(f'.market[data-ticker="{ticker}"] .chart')).to_have_attribute("data-points", "240")
    finally:
        caches[price_history.CACHE].delete(key)


def test_phone_width_has_no_sideways_scrolling(page, boss):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "boss", PASSWORD)
    whale_through_execution()
    expect(page.locator("#whale-rows tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # The whale table is wider than the phone: a hint says it scrolls, until scrolled to its end.
    hint = page.locator(".whales .scroll-hint")
    expect(hint).to_be_visible()
    page.locator(".whales .scroll").evaluate("box => box.scrollTo({ left: box.scrollWidth })")
    expect(hint).to_be_hidden()
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


def test_whales_from_many_markets_are_filtered_by_series_and_minimum_notional(page, trader):
    log_in(page, "viewer", PASSWORD)
    for ticker, dollars in [("KXBTCD-26DEC31-T1", 2_000), ("KXFED-27JAN-T4", 1_200), ("KXFED-27MAR-T4", 9_000)]:
        broadcast.whale_queue(make_whale(ticker, notional=dollars * 1_000_000).pk)
    publisher.get_publisher().flush()
    rows = page.locator("#whale-rows tr")
    expect(rows).to_have_count(3)

    page.select_option("#whale-series", "KXFED")
    expect(rows).to_have_count(2)
    expect(page.locator("#whale-shown")).to_have_text("showing 2 of 3")
    page.fill("#whale-min", "5000")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("KXFED-27MAR-T4")

    # The filter is the browser's own and survives a reload.
    page.reload()
    expect(page.locator("#whale-series")).to_have_value("KXFED")
    expect(rows).to_have_count(1)

    # The console filters by text too: one market's lines among many.
    activity("whale on KXFED-27MAR-T4", source="whale")
    activity("whale on KXBTCD-26DEC31-T1", source="whale")
    page.fill("#text-filter", "kxbtcd")
    expect(page.locator("#console li:visible")).to_have_count(1)
    expect(page.locator("#console li:visible")).to_contain_text("KXBTCD-26DEC31-T1")
