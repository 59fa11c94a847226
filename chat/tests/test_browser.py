"""Chat in Chromium against a live daphne and the loopback upstream: streaming, Markdown, Limit Exceeded."""

import time

import pytest
from playwright.sync_api import expect

from conftest import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chat_streams_renders_safely_and_shows_limit_exceeded(page, live, user, plans, upstream_server):
    upstream_server.reset()
    upstream_server.chunk_gap = 0.08
    upstream_server.reply = "Here is **bold** and <script>window.pwned=1</script> text"
    browser_log_in(page, live, user.email)

    page.goto(live.url + "/chat/")
    expect(page.get_by_text("You need an API key")).to_be_visible()
    page.get_by_role("link", name="Generate one on the Keys page").click()
    page.locator(".card.plan", has_text="10RequestPerDay").get_by_role("button", name="Generate Key").click()
    expect(page.get_by_label("Your new API key")).to_be_visible()

    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator("#remaining")).to_have_text("10 of 10 requests left today")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_hidden()
    box = page.get_by_label("Message")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    box.press("Enter")

    answer = page.locator(".bubble.assistant").last
    expect(stop).to_be_visible()  # offered while the answer streams
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        text = answer.inner_text()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        if "streaming" not in (answer.get_attribute("class") or ""):
            break
        time.sleep(0.03)
    assert len(seen) >= 3, seen  # the answer grew in several visible steps
    streamed = seen[:-1]  # the last sample is the rendered Markdown
    assert all(later.startswith(earlier) for earlier, later in zip(streamed, streamed[1:], strict=False))
    expect(answer.locator("strong")).to_have_text("bold")
    expect(stop).to_be_hidden()
    expect(answer).to_contain_text("<script>window.pwned=1</script>")
    assert page.evaluate("window.pwned") is None
    expect(page.locator(".bubble.user").last).to_have_text("first line\nsecond line")
    expect(page.locator("#remaining")).to_have_text("9 of 10 requests left today")

    upstream_server.chunk_gap = 0
    for n in range(9):
        box.fill(f"message {n}")
        box.press("Enter")
        expect(page.locator("#remaining")).to_have_text(f"{8 - n} of 10 requests left today")
    box.fill("one too many")
    box.press("Enter")
    expect(page.locator(".bubble.assistant").last).to_contain_text("Limit Exceeded")
    expect(page.locator(".bubble.assistant").last).to_contain_text("resets at 00:00 UTC")
    assert len(upstream_server.requests) == 10
    upstream_server.reset()

    # The conversation is kept and listed.
    page.reload()
    expect(page.locator("#conversations a").first).to_have_text("first line second line")
