"""A Thai reader's walk in Chromium: sign up, Generate Key, chat, spend the quota, see the limit in Thai."""

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Screenshots stay after the run for people to look at: `make test` keeps them under .artifacts/.
SHOTS = Path(os.environ.get("TOLLGATE_SCREENSHOTS", Path(__file__).resolve().parents[2] / ".artifacts" / "thai"))


@pytest.fixture
def thai_page(browser):
    context = browser.new_context(locale="th-TH", viewport={"width": 1100, "height": 800})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def shoot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def thai_font_in_use(page) -> bool:
    """Noto Sans Thai, served from /static/, loaded and drawing the page's Thai letters."""
    page.evaluate("document.fonts.ready")
    return page.evaluate(
        """[...document.fonts].some(f => f.family.replace(/"/g, '') === 'Noto Sans Thai' && f.status === 'loaded')"""
    )


def test_a_thai_reader_signs_up_generates_a_key_chats_and_meets_the_limit(thai_page, live, plans, upstream_server):
    page = thai_page
    upstream_server.reset()
    page.goto(live.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "th")
    expect(page.get_by_role("heading", level=1)).to_contain_text("รับคีย์ของคุณเอง")
    assert thai_font_in_use(page)
    shoot(page, "1-home")

    page.get_by_role("navigation").get_by_role("link", name="ลงทะเบียน").click()
    page.fill("input[name=email]", "somchai@example.com")
    page.fill("input[name=password1]", "a-long-unusual-pass-42")
    page.fill("input[name=password2]", "a-long-unusual-pass-42")
    shoot(page, "2-sign-up")
    page.locator("form button[type=submit]").last.click()
    expect(page.get_by_role("heading", name="แดชบอร์ด")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="คีย์").click()
    plan = page.locator(".card.plan", has_text="10RequestPerDay")
    expect(plan).to_contain_text("คำขอต่อวัน")
    plan.get_by_role("button", name="สร้างคีย์").click()
    key_field = page.get_by_label("คีย์ API ใหม่ของคุณ")
    expect(key_field).to_be_visible()
    expect(page.get_by_text("คัดลอกเก็บไว้เดี๋ยวนี้")).to_be_visible()
    shoot(page, "3-new-key")
    plaintext = key_field.input_value()

    # Nine requests from a script (the API answers in English), the tenth from the chat page.
    for _ in range(9):
        response = httpx.post(
            live.url + "/v1/chat/completions",
            headers={"x-api-key": plaintext, "accept-language": "th"},
            json={"messages": [{"role": "user", "content": "hi"}]},
        )
        assert response.status_code == 200
    page.get_by_role("navigation").get_by_role("link", name="แชต").click()
    expect(page.locator("#connection")).to_have_text("เชื่อมต่อแล้ว")
    expect(page.locator("#remaining")).to_have_text("วันนี้เหลือ 1 จาก 10 คำขอ")
    box = page.get_by_label("ข้อความ", exact=True)
    box.fill("สวัสดีครับ")
    page.get_by_role("button", name="ส่ง", exact=True).click()
    expect(page.locator(".bubble.assistant").last).not_to_have_class("bubble assistant streaming")
    expect(page.locator("#remaining")).to_have_text("วันนี้เหลือ 0 จาก 10 คำขอ")

    box.fill("อีกข้อความหนึ่ง")
    box.press("Enter")
    limit = page.locator(".bubble.assistant").last
    expect(limit).to_contain_text("เกินโควตาแล้ว")
    expect(limit).to_contain_text(re.compile(r"เริ่มนับใหม่เวลา .+ 00:00 UTC"))
    expect(page.locator("#conversations a").first).to_have_text("สวัสดีครับ")
    assert thai_font_in_use(page)
    shot = shoot(page, "4-limit-exceeded")
    assert "Limit Exceeded" not in page.locator("main").inner_text()

    # The API, asked the same way, still answers in the seed's English words.
    refused = httpx.post(
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext, "accept-language": "th"},
        json={"messages": [{"role": "user", "content": "hi"}]},
    )
    assert refused.status_code == 429 and refused.json()["message"] == "Limit Exceeded"

    page.get_by_role("navigation").get_by_role("link", name="การใช้งาน").click()
    expect(page.get_by_role("heading", name="รายวัน")).to_be_visible()
    shoot(page, "5-usage")
    # The switch takes her back to English, and the choice sticks.
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(live.url + "/keys/")
    expect(page.get_by_role("heading", name="API keys")).to_be_visible()
    assert shot.exists()
