"""Markdown while an answer streams, in Chromium: rendered as it grows, never running what it holds."""

import time

import pytest
from playwright.sync_api import expect

from conftest import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HOSTILE = [
    "<img src=x onerror=window.pwned=1>",
    "[click](javascript:window.pwned=1)",
    "**<script>window.pwned=1</script>**",
    "`<b>code</b>` and [ok](https://example.com)",
    "- <svg onload=window.pwned=1>\n- two",
    "```\n<iframe src=javascript:window.pwned=1>",
]


def test_the_streaming_renderer_builds_only_safe_elements(page, live, user, key_factory):
    key_factory(user)
    browser_log_in(page, live, user.email)
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")
    for text in HOSTILE:
        for streaming in (True, False):
            found = page.evaluate(
                """([text, streaming]) => {
                    const box = document.createElement("div");
                    box.appendChild(tollgateMarkdown.render(text, streaming));
                    document.body.appendChild(box);
                    const tags = [...box.querySelectorAll("*")].map((node) => node.tagName.toLowerCase());
                    const attributes = [...box.querySelectorAll("*")]
                        .flatMap((node) => [...node.attributes].map((a) => `${a.name}=${a.value}`));
                    box.remove();
                    return {tags, attributes, text: box.textContent};
                }""",
                [text, streaming],
            )
            allowed = {"p", "strong", "em", "code", "pre", "a", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "hr"}
            assert set(found["tags"]) <= allowed, (text, found)
            assert all(a.split("=", 1)[0] in {"href", "rel"} for a in found["attributes"]), (text, found)
            assert all(a.startswith(("href=https:", "href=http:", "rel=")) for a in found["attributes"]), (text, found)
    assert page.evaluate("window.pwned") is None
    rendered = page.evaluate("""(() => { const b = document.createElement("div");
        b.appendChild(tollgateMarkdown.render("# Title\\n\\nSome **bold** and *it*\\n\\n1. one\\n2. two", false));
        return b.innerHTML; })()""")
    assert (
        rendered == "<h1>Title</h1><p>Some <strong>bold</strong> and <em>it</em></p><ol><li>one</li><li>two</li></ol>"
    )


def test_an_answer_is_markdown_while_it_streams_and_grows_as_one_text(page, live, user, key_factory, upstream_server):
    upstream_server.reset()
    upstream_server.chunk_gap = 0.12
    upstream_server.reply = "Here is **bold** and a [link](https://example.com) then more words to stream"
    key_factory(user)
    browser_log_in(page, live, user.email)
    page.goto(live.url + "/chat/")
    expect(page.locator("#connection")).to_have_text("Connected")
    page.get_by_label("Message").fill("Markdown please")
    page.get_by_label("Message").press("Enter")
    answer = page.locator(".bubble.assistant").last
    bold_while_streaming, seen = False, []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "streaming" in (answer.get_attribute("class") or "streaming"):
        if "streaming" in (answer.get_attribute("class") or ""):
            seen.append(answer.inner_text())
            bold_while_streaming |= answer.locator("strong").count() > 0 and "**" not in seen[-1]
        time.sleep(0.03)
    assert bold_while_streaming, seen  # rendered before the answer ended, never shown as **raw** markers
    assert all(later.startswith(earlier) for earlier, later in zip(seen, seen[1:], strict=False)), seen
    expect(answer.locator("a")).to_have_attribute("href", "https://example.com")
    expect(answer.locator("strong")).to_have_text("bold")
