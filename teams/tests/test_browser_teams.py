"""In Chromium: create a team, invite by mail, accept, make a team key, and limit it to an address."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, browser_log_in, sqlite_test_url
from keys.models import ApiKey
from teams.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_team_from_creation_to_a_scoped_team_key(
    browser, live_server_factory, live_server_env, user, user_factory, plans, tmp_path
):
    mail_dir = tmp_path / "mail"
    live = live_server_factory(
        {"DATABASE_URL": sqlite_test_url(), **live_server_env, "EMAIL_URL": f"filemail:///{mail_dir}"}
    )
    bob = user_factory("bob@acme.test")

    owner = browser.new_context().new_page()
    browser_log_in(owner, live, user.email)
    owner.get_by_role("link", name="Teams").click()
    expect(owner.locator(".empty")).to_contain_text("not in a team yet")
    owner.get_by_label("Name").fill("Acme")
    owner.get_by_role("button", name="Create team").click()
    expect(owner.get_by_role("heading", level=1)).to_contain_text("Acme")
    owner.get_by_label("Email").fill("bob@acme.test")
    owner.get_by_role("button", name="Send invitation").click()
    expect(owner.locator(".messages, .message").first).to_contain_text("Invitation sent to bob@acme.test")
    expect(owner.locator("#invite-h + ul")).to_contain_text("bob@acme.test")

    sent = "".join(path.read_text() for path in mail_dir.iterdir())
    link = re.search(r"http://\S+/invitations/\S+/", sent).group(0)

    member = browser.new_context().new_page()
    member.goto(link)
    expect(member.locator("main")).to_contain_text("You are invited to join Acme as member")
    member.get_by_role("link", name="Log in").last.click()
    member.fill("input[name=login]", bob.email)
    member.fill("input[name=password]", PASSWORD)
    member.press("input[name=password]", "Enter")
    member.wait_for_url(link)
    member.get_by_role("button", name="Accept and join").click()
    expect(member.locator("body")).to_contain_text("Welcome to Acme.")
    assert Membership.objects.get(user=bob).role == "member"

    member.get_by_label("Plan").select_option("10RequestPerDay")
    member.get_by_role("button", name="Generate team key").click()
    plaintext = member.get_by_label("Your new API key").input_value()
    assert plaintext.startswith("tg-")
    member.locator("summary", has_text="Edit limits").click()
    member.get_by_label("Allowed addresses").fill("192.0.2.1")
    member.get_by_role("button", name="Save limits").click()
    expect(member.locator("body")).to_contain_text("limits are saved")
    assert ApiKey.objects.get(owner=bob).allowed_ips == ["192.0.2.1/32"]

    refused = httpx.post(
        live.url + "/v1/chat/completions",
        headers={"x-api-key": plaintext},
        json={"model": "loopback-model", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "ip_not_allowed"

    owner.reload()
    expect(owner.locator("table.keys")).to_contain_text("bob@acme.test")  # owners see every member's key
    members = owner.get_by_role("region", name="Members")
    expect(members.get_by_label("Role of bob@acme.test")).to_have_value("member")
