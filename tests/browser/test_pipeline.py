"""The whole embedded system (``manage.py run_all``: simulator, feed runner, whale
execution and web in one process) seen through the dashboard: whales the simulator
makes arrive on the page with the decision the execution side took."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, open_page
from tests.browser.server import embedded_env, manage, run_all_server

pytestmark = [pytest.mark.browser]

PASSWORD = "correct-horse-battery-9"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
# Simulated market data and whales fast enough that a whale shows within seconds.
SIM_OPTIONS = ("--sim-rate", "200", "--whale-rate", "0.05")
CREATE_USERS = f"""
from django.contrib.auth.models import User
User.objects.create_superuser("boss", "", {PASSWORD!r})
User.objects.create_user("viewer", "", {PASSWORD!r})
"""


@pytest.fixture
def system(tmp_path):
    env = embedded_env(tmp_path / "data")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "shell", "-v0", "-c", CREATE_USERS)
    server = run_all_server(env, log=tmp_path / "run_all.log", extra=SIM_OPTIONS)
    server.start()
    yield server
    server.close()


@pytest.fixture
def system_page(browser, system):
    yield from open_page(browser, system.url)


def test_simulated_whales_arrive_with_their_decisions(system_page):
    page = system_page
    log_in(page, "boss", PASSWORD)
    expect(page.locator("#state b")).to_have_text("trading", timeout=30_000)
    console = page.locator("#console")
    expect(console).to_contain_text("trading enabled")
    expect(console.locator("li").first).to_be_visible()
    expect(page.locator("#exchange b")).to_have_text("connected", timeout=30_000)

    decided = page.locator("#whale-rows tr").filter(has=page.locator(".decision"))
    expect(decided.first).to_be_visible(timeout=60_000)
    row = decided.first
    expect(row.locator(".decision")).to_have_text(re.compile("^(follow|skip)$"))
    expect(row.locator("a")).to_have_attribute("href", re.compile(r"/admin/trading/whaledecision/\d+/change/$"))
    expect(console).to_contain_text("whale on")
    # Market panels fill from the live feed.
    expect(page.locator(".market .bid").first).to_have_text(re.compile(r"\d"), timeout=30_000)

    # Kill, confirmed, is recorded with who did it; resume undoes it.
    page.get_by_role("button", name="Kill…").click()
    page.get_by_role("button", name="Kill trading").click()
    expect(console).to_contain_text("Kill switch turned on by boss.", timeout=30_000)
    expect(page.locator("#control-result")).to_have_text("kill: done", timeout=30_000)
    expect(page.locator("#switches")).to_have_text("KILLED: no new orders")
    page.get_by_role("button", name="Resume").click()
    expect(console).to_contain_text("Trading resumed by boss.")
    expect(page.locator("#switches")).to_be_hidden()

    # V3_UPDATE_SCREENSHOT=1 refreshes the README's picture from the running system.
    if os.environ.get("V3_UPDATE_SCREENSHOT") == "1":
        page.wait_for_timeout(15_000)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
