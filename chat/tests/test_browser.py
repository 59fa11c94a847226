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
    expect(page.locator(".bubble.assistant").last).to_contain_text("00:00 UTC")
    assert len(upstream_server.requests) == 10
    upstream_server.reset()

    # The conversation is kept and listed.
    page.reload()
    expect(page.locator("#conversations a").first).to_have_text("first line second line")


HOLD_OPEN = """
// Holds every WebSocket in the CONNECTING state for a moment, as a slow network would.
const Real = window.WebSocket;
window.WebSocket = class extends Real {
  constructor(...args) {
    super(...args);
    this._held = true;
    this._openers = [];
    super.addEventListener("open", () => setTimeout(() => {
      this._held = false;
      this._openers.forEach((listener) => listener());
    }, 1500));
  }
  get readyState() { return this._held ? Real.CONNECTING : super.readyState; }
  send(data) {
    if (this._held) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    super.send(data);
  }
  addEventListener(type, listener, options) {
    if (type === "open") this._openers.push(listener);
    else super.addEventListener(type, listener, options);
  }
};
"""


def test_typed_while_connecting_is_queued_and_failures_offer_retry(page, live, user, key_factory, upstream_server):
    upstream_server.reset()
    key_factory(user)
    browser_log_in(page, live, user.email)
    page.add_init_script(HOLD_OPEN)
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connecting…")
    box = page.get_by_label("Message")
    box.fill("sent before the socket opened")
    box.press("Enter")
    expect(page.locator(".bubble.assistant").last).to_contain_text("Hello from the loopback model", timeout=10_000)
    expect(page.locator("#connection")).to_have_text("Connected")

    upstream_server.fail_status = 500
    box.fill("this one fails")
    box.press("Enter")
    failed = page.locator(".bubble.assistant.error").last
    expect(failed).to_contain_text("Something went wrong")
    expect(page.locator("#remaining")).to_have_text("9 of 10 requests left today")  # refunded
    upstream_server.fail_status = 0
    failed.get_by_role("button", name="Retry").click()
    expect(page.locator(".bubble.assistant").last).to_contain_text("Hello from the loopback model")
    expect(page.locator("#remaining")).to_have_text("8 of 10 requests left today")
    upstream_server.reset()


def test_a_dropped_connection_reconnects(page, live, user, key_factory, upstream_server):
    upstream_server.reset()
    key_factory(user)
    browser_log_in(page, live, user.email)
    opened = []

    def relay(ws) -> None:
        ws.connect_to_server()
        opened.append(ws)

    page.route_web_socket("**/ws/chat/", relay)
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")
    opened[0].close()
    expect(page.locator("#connection")).to_contain_text("reconnecting")
    expect(page.locator("#connection")).to_have_text("Connected")
    assert len(opened) == 2
    page.get_by_label("Message").fill("still there?")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".bubble.assistant").last).to_contain_text("Hello from the loopback model")
    upstream_server.reset()


def test_the_model_picker_offers_the_keys_models_and_remembers_the_choice(
    page, live, user, key_factory, two_upstream_catalogue
):
    key_factory(user, "10RequestPerDay")  # grants only 'first'
    key_factory(user, "20RequestPerDay")  # grants every model
    browser_log_in(page, live, user.email)
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")
    keys, models = page.get_by_label("Key"), page.get_by_label("Model")
    keys.select_option(label=keys.locator("option", has_text="10RequestPerDay").inner_text())
    assert models.locator("option:not([disabled])").all_inner_texts() == ["first"]
    keys.select_option(label=keys.locator("option", has_text="20RequestPerDay").inner_text())
    assert models.locator("option:not([disabled])").all_inner_texts() == ["first", "second"]
    models.select_option("second")
    page.get_by_label("Message").fill("hello")
    page.get_by_label("Message").press("Enter")
    expect(page.locator(".bubble.assistant").last).to_have_text("Second upstream here.")
    page.get_by_role("link", name="hello").click()
    expect(page.get_by_label("Model")).to_have_value("second")
