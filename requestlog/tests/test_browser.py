"""/usage/requests/ in Chromium: a user finds their calls, filters them and pages back."""

import time

import pytest

from conftest import browser_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_finds_a_call_filters_and_pages_back(live, page, user, other_user, note):
    now = time.time()
    for n in range(55):
        note(user_id=user.pk, request_id=f"ok-{n:02d}", started=now - 60 - n, flush=False)
    note(user_id=user.pk, request_id="refused-one", status=429, refusal="requests", started=now - 30, flush=False)
    note(user_id=other_user.pk, request_id="bobs-call", started=now - 10)

    browser_log_in(page, live, user.email)
    page.goto(live.url + "/usage/")
    page.get_by_role("link", name="See each request").click()
    page.wait_for_url("**/usage/requests/")
    table = page.locator("table.request-log tbody tr")
    assert table.count() == 50
    assert table.first.locator("code").first.inner_text() == "refused-one"
    assert page.locator("text=bobs-call").count() == 0

    page.get_by_role("link", name="Older").click()
    page.wait_for_url("**cursor=**")
    assert table.count() == 6 and table.last.locator("code").first.inner_text() == "ok-54"
    assert page.get_by_role("link", name="Older").count() == 0

    page.get_by_role("link", name="Newest").click()
    page.select_option("#filter-refusal", "requests")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**refusal=requests**")
    assert table.count() == 1 and "429" in table.first.inner_text()

    page.goto(live.url + "/usage/requests/")
    page.fill("#filter-request-id", "ok-07")
    page.press("#filter-request-id", "Enter")
    page.wait_for_url("**request_id=ok-07**")
    assert table.count() == 1 and "ok-07" in table.first.inner_text()

    page.goto(live.url + "/usage/requests/?request_id=bobs-call")
    assert table.count() == 0 and page.locator("p.empty").is_visible()
