"""Chromium walks at a desktop and a phone width, in English and Thai: keys, usage, activity and chat.

Screenshots are kept as artefacts under .artifacts/screenshots/<run>/ (`make clean` removes them).
"""

import datetime
import os
import time
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
RUN = os.environ.get("TOLLGATE_RUN_ID", time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
SHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots" / RUN
WIDTHS = {"desktop": 1280, "phone": 375}
LANGUAGES = {"en": "en-GB", "th": "th-TH"}


@pytest.fixture
def walker(user, key_factory, plans):
    """Alice with a key in every plan (one revoked, one expiring), usage on two days of thirty, and a chat."""
    from chat.models import Conversation, Message
    from keys.models import DailyUsage
    from keys.services import key_revoke

    keys = [
        key_factory(user, "10RequestPerDay", label="laptop at the office")[0],
        key_factory(user, "20RequestPerDay", label="build server")[0],
        key_factory(user, "30RequestPerDay")[0],
    ]
    keys[1].expires_at = timezone.now() + datetime.timedelta(days=3)
    keys[1].save(update_fields=["expires_at"])
    key_revoke(key=keys[2])
    today = timezone.now().date()
    DailyUsage.objects.create(key=keys[0], day=today, model="tollgate-demo", requests=7, prompt_tokens=120)
    DailyUsage.objects.create(key=keys[1], day=today - datetime.timedelta(days=9), model="tollgate-demo", requests=3)
    conversation = Conversation.objects.create(owner=user, title="Markdown please")
    Message.objects.create(conversation=conversation, role="user", content="Show me a list")
    Message.objects.create(conversation=conversation, role="assistant", content="**Bold** and a list:\n\n- one\n- two")
    return user


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5_000  # a rendered page, not a blank one


def no_page_overflow(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", WIDTHS)
def test_walk_keys_usage_activity_and_chat(browser, live, walker, size, language):
    context = browser.new_context(locale=LANGUAGES[language], viewport={"width": WIDTHS[size], "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_log_in(page, live, walker.email)
        assert page.locator("html").get_attribute("lang") == language
        name = f"{language}-{size}"

        page.goto(live.url + "/keys/")
        expect(page.locator("table.keys")).to_be_visible()
        shoot(page, f"keys-{name}")
        wrap = page.locator(".keys-wrap")
        assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth"), "the keys table overflows its box"
        assert no_page_overflow(page), "the keys page scrolls sideways"
        prefixes = page.locator("table.keys code.prefix")
        assert prefixes.count() == 3
        for i in range(prefixes.count()):
            assert prefixes.nth(i).evaluate("el => el.getClientRects().length") == 1, "a prefix wraps"
        box = wrap.bounding_box()
        for button in page.locator("table.keys button").all():
            b = button.bounding_box()
            assert b["x"] >= box["x"] - 1 and b["x"] + b["width"] <= box["x"] + box["width"] + 1, "a clipped button"

        page.goto(live.url + "/usage/")
        shoot(page, f"usage-{name}")
        assert no_page_overflow(page), "the usage page scrolls sideways"
        expect(page.locator("tr.quiet-days").first).to_be_visible()

        page.goto(live.url + "/account/activity/")
        shoot(page, f"activity-{name}")
        assert no_page_overflow(page), "the activity page scrolls sideways"
        assert "key.created" not in page.locator("main").inner_text()

        page.goto(live.url + "/chat/?c=" + str(walker.conversations.get().pk))
        expect(page.locator(".bubble.assistant strong")).to_have_text("Bold")
        shoot(page, f"chat-{name}")
        assert no_page_overflow(page), "the chat page scrolls sideways"
    finally:
        context.close()


def test_a_thai_reader_whose_form_is_refused_reads_the_csrf_page_in_thai_with_the_thai_font(browser, live, user, plans):
    context = browser.new_context(locale="th-TH", viewport={"width": 375, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        browser_log_in(page, live, user.email)
        page.goto(live.url + "/keys/")
        context.clear_cookies(name="csrftoken")  # as when the cookie is blocked or gone stale
        page.locator(".card.plan").first.locator("button[type=submit]").click()
        expect(page).to_have_title("โปรดลองอีกครั้ง · Tollgate")
        page.evaluate("document.fonts.ready")
        loaded = "[...document.fonts].some(f => f.family.includes('Noto Sans Thai') && f.status === 'loaded')"
        assert page.evaluate(loaded), "Thai letters drawn without the Thai font"
        shoot(page, "csrf-th-phone")
        assert no_page_overflow(page)
    finally:
        context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_admins_upstream_and_model_lists_fit_1280_pixels(browser, live, user_factory, language):
    """Long base URLs, a misconfigured key in red, and prices: the changelists still fit a 1280-pixel screen."""
    from decimal import Decimal

    from gateway.models import CatalogModel, Upstream

    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    long_url = "https://inference-gateway.eu-central-1.internal.models.example.com/openai/deployments/v1"
    for index in range(3):
        Upstream.objects.create(name=f"provider-{index}-with-a-long-name", base_url=long_url, weight=index + 1)
    Upstream.objects.create(name="sealed", base_url=long_url, sealed_api_key="not-a-fernet-token")
    model = CatalogModel.objects.create(
        name="gpt-4o-mini-2024-07-18-long-model-name",
        price_input_per_million=Decimal("0.15"),
        price_output_per_million=Decimal("0.6"),
        price_per_request=Decimal("0.0001"),
    )
    model.upstreams.set(Upstream.objects.all())
    context = browser.new_context(locale=LANGUAGES[language], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        browser_log_in(page, live, staff.email)
        for path in ("/admin/gateway/upstream/", "/admin/gateway/catalogmodel/"):
            page.goto(live.url + path)
            expect(page.locator("#result_list")).to_be_visible()
            shoot(page, f"admin-{path.split('/')[3]}-{language}-desktop")
            assert no_page_overflow(page), f"{path} scrolls sideways at 1280 px"
            results = page.locator(".results")
            widths = results.evaluate("el => [el.scrollWidth, el.clientWidth]")
            assert widths[0] <= widths[1] + 1, f"{path}'s table overflows: {widths}"
    finally:
        context.close()
