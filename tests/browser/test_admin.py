"""The Django admin under the site's strict Content-Security-Policy (no inline script
or style allowed): staff log in, filter, run the review action and open a decision
in a real Chromium, and the page fixture fails the test on anything the policy refused."""

import pytest
from playwright.sync_api import expect

from tests.trading.test_admin import decision
from trading.models import WhaleDecision

pytestmark = [
    pytest.mark.browser,
    pytest.mark.needs_postgres,
    pytest.mark.needs_redis,
    pytest.mark.django_db(transaction=True),
]

PASSWORD = "correct-horse-battery-9"


def test_staff_review_a_decision_in_the_admin_under_the_policy(page, django_user_model):
    boss = django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    followed = decision("KXCSP-26", follow=True, reason="follow")
    decision("KXCSP-26", follow=False, reason="cooldown")

    page.goto("/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()

    page.goto("/admin/trading/whaledecision/")
    page.click("#changelist-filter a:text('follow')")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.check("#action-toggle")
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
    page.select_option("select[name=action]", "mark_reviewed")
    page.click("button[name=index]")
    page.fill("#id_note", "checked in the browser")
    page.click("input[name=apply]")
    expect(page.locator(".messagelist")).to_contain_text("1 decisions marked reviewed")
    assert WhaleDecision.objects.get(pk=followed.pk).review_note == "checked in the browser"

    page.goto(f"/admin/trading/whaledecision/{followed.pk}/change/")
    expect(page.locator("body")).to_contain_text(f"fill-{followed.pk}")
    page.click("#toggle-nav-sidebar")
    page.goto(f"/admin/auth/user/{boss.pk}/change/")
    expect(page.locator("#id_user_permissions_from")).to_be_visible()
    page.click("#id_user_permissions_add_all")
    expect(page.locator("#id_user_permissions_to option").first).to_be_attached()


def test_decision_list_fits_a_1400_pixel_screen(page, django_user_model):
    """Long tickers stay on one line, and order status, P&L and reviewed are on screen."""
    django_user_model.objects.create_superuser(username="boss", password=PASSWORD)
    decision("KXBTCD-26DEC3117-T99999.99", follow=True, reason="follow")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto("/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto("/admin/trading/whaledecision/")
    market = page.locator("#result_list td.field-market").first
    expect(market).to_have_text("KXBTCD-26DEC3117-T99999.99")
    lines = (
        "cell => { const r = document.createRange(); r.selectNodeContents(cell); return r.getClientRects().length; }"
    )
    assert market.evaluate(lines) == 1, "the ticker wraps"
    shown = page.locator("#changelist .results").bounding_box()
    for column in ("order_status", "realized", "reviewed"):
        box = page.locator(f"#result_list td.field-{column}").first.bounding_box()
        assert box["x"] + box["width"] <= min(1400, shown["x"] + shown["width"]), f"{column} is off screen"
