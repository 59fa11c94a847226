"""Tollgate in Thai: a complete, current catalogue; pages in the reader's language; the API still English."""

import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from accounts.models import AccountSettings
from gateway.upstreams import default_model
from keys.metering import utc_today
from keys.models import ApiKey, QuotaCounter
from keys.periods import period_bounds
from portal.tests.test_layering import LAYERS
from usage import alerts

ROOT = Path(settings.BASE_DIR)
CATALOGUES = [ROOT / "locale" / "th" / "LC_MESSAGES" / f"{domain}.po" for domain in ("django", "djangojs")]
THAI = re.compile(r"[\u0e01-\u0e5b]")
# Words a Thai page may keep in Latin letters: names, standards and what users type or paste.
KEPT_IN_LATIN = {
    "tollgate", "api", "utc", "csv", "openai", "python", "curl", "aws", "gateway", "iam", "json", "http", "https",
    "english", "enter", "shift", "totp", "email", "ip", "com", "example", "requestperday", "loopback", "model",
    "localhost", "testserver", "responses", "usd",  # an ISO 4217 currency code, as TOLLGATE_CURRENCY names it
    "ipv", "cidr", "db",  # IPv4, IPv6, CIDR, and the documentation prefix 2001:db8:: in an example address
}  # fmt: skip


class VisibleText(HTMLParser):
    """The text a reader sees, and the attributes a screen reader reads, outside code and scripts."""

    HIDDEN = {"script", "style", "code", "pre", "title"}
    SPOKEN = ("aria-label", "placeholder", "title", "data-confirm", "data-busy", "alt")

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.HIDDEN:
            self.depth += 1
        values = dict(attrs)
        self.parts += [values[name] or "" for name in self.SPOKEN if name in values]
        if tag == "input" and values.get("type") in ("submit", "button"):
            self.parts.append(values.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.depth = max(0, self.depth - 1)

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def english_left(html: str, *allowed: str) -> set[str]:
    """Latin-letter words on the page that are neither names nor data the page shows (emails, keys, plans)."""
    parser = VisibleText()
    parser.feed(html)
    text = " ".join(parser.parts)
    for value in allowed:
        text = text.replace(value, " ")
    words = {w.lower() for w in re.findall(r"[A-Za-z]{2,}", text)}
    return words - KEPT_IN_LATIN


# -- the catalogue ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.name)
def test_every_string_has_a_thai_translation(path):
    catalogue = polib.pofile(str(path))
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or "fuzzy" in e.flags)]
    assert missing == []
    assert catalogue.metadata["Language"] == "th" and not catalogue.metadata_is_fuzzy
    for entry in catalogue:
        translations = [entry.msgstr] if not entry.msgid_plural else list(entry.msgstr_plural.values())
        for text in translations:
            # Same placeholders in Thai as in English, and Thai letters in every sentence that has words.
            assert sorted(re.findall(r"%\(\w+\)[sd]|%d|\{\w+\}", text)) == sorted(
                re.findall(r"%\(\w+\)[sd]|%d|\{\w+\}", entry.msgid)
            ), entry.msgid
            if re.search(r"[a-z]{3}", re.sub(r"%\(\w+\)[sd]|\{\w+\}|<[^>]+>", "", entry.msgid)):
                assert THAI.search(text), entry.msgid


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.name)
def test_the_compiled_catalogue_matches_its_source(path):
    source = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in polib.pofile(str(path)) if e.msgid}
    compiled = {
        (e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0)
        for e in polib.mofile(str(path.with_suffix(".mo")))
        if e.msgid
    }
    assert compiled == source, "run `make messages` to compile locale/th"


def test_every_marked_string_is_in_the_catalogue(tmp_path):
    """makemessages over a copy of the sources finds exactly the strings locale/th holds: none left untranslated,
    none stale."""
    assert shutil.which("xgettext"), "GNU gettext is missing: `make test` installs it"
    for name in (*LAYERS, "templates", "static"):  # every package whose strings may be marked
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("tests", "__pycache__", "fonts"))
    shutil.copy(ROOT / "manage.py", tmp_path)
    (tmp_path / "locale").mkdir()
    env = {"PATH": "/usr/bin:/bin", "DJANGO_DEBUG": "1", "HOME": str(tmp_path)}
    for domain in ("django", "djangojs"):
        subprocess.run(
            [sys.executable, "manage.py", "makemessages", "-l", "th", "-d", domain, "--no-location", "-v", "0"],
            cwd=tmp_path, env=env, check=True, timeout=120,
        )  # fmt: skip
    for path in CATALOGUES:
        found = {(e.msgctxt, e.msgid) for e in polib.pofile(str(tmp_path / "locale/th/LC_MESSAGES" / path.name))}
        held = {(e.msgctxt, e.msgid) for e in polib.pofile(str(path)) if not e.obsolete}
        assert found - held == set(), f"marked for translation but not in {path.name}: run `make messages`"
        assert held - found == set(), f"in {path.name} but no longer marked anywhere"


# -- pages --------------------------------------------------------------------------------------------------------

THAI_PAGES = {
    "/": "แพ็กเกจ",
    "/accounts/login/": "ลงชื่อเข้าใช้",
    "/accounts/signup/": "ลงทะเบียน",
    "/accounts/password/reset/": "รหัสผ่าน",
}
SIGNED_IN_THAI_PAGES = {
    "/": "แดชบอร์ด",
    "/keys/": "สร้างคีย์",
    "/chat/": "กำลังเชื่อมต่อ…",
    "/usage/": "รายวัน",
    "/account/": "บัญชีของคุณ",
    "/account/activity/": "ประวัติการใช้งานบัญชี",
    "/accounts/email/": "อีเมล",
    "/accounts/password/change/": "รหัสผ่าน",
    "/accounts/2fa/": "สองปัจจัย",
    "/accounts/2fa/totp/activate/": "รหัสผ่าน",  # asks for the password again first
    "/no-such-page/": "ไม่พบหน้าที่ต้องการ",
}


def plan_words(plans: dict) -> list[str]:
    return list(plans)  # plan names are names; the seed's descriptions are translated


def test_pages_asked_for_in_thai_are_thai(client, plans):
    for path, words in THAI_PAGES.items():
        html = client.get(path, HTTP_ACCEPT_LANGUAGE="th").content.decode()
        assert '<html lang="th">' in html and words in html, path
        left = english_left(html, *plan_words(plans))
        assert not left, (path, sorted(left))


@pytest.fixture
def busy_user(alice_client, user, key_factory):
    """Alice with a key that has been used today, an audit trail and a conversation: every part of every page shows."""
    key, plaintext = key_factory(user, "10RequestPerDay")
    thai = {"HTTP_ACCEPT_LANGUAGE": "th"}
    alice_client.post(
        "/keys/generate", {"plan_name": "30RequestPerDay", "label": "laptop", "expires_in_days": "7"}, **thai
    )
    QuotaCounter.objects.create(owner_id=user.pk, plan_id=key.plan_id, day=utc_today(), used=3)
    alice_client.post(f"/keys/{key.pk}/revoke", **thai)
    alice_client.get("/keys/", **thai)  # shows, and so uses up, the revoke's message
    return user


def test_signed_in_pages_are_thai(alice_client, busy_user, plans):
    for path, words in SIGNED_IN_THAI_PAGES.items():
        response = alice_client.get(path, HTTP_ACCEPT_LANGUAGE="th", follow=True)
        html = response.content.decode()
        assert '<html lang="th">' in html and words in html, path
        prefixes = [k.public_prefix for k in ApiKey.objects.all()]
        left = english_left(html, busy_user.email, "laptop", default_model(), *prefixes, *plan_words(plans))
        assert not left, (path, sorted(left))


def test_thai_pages_localize_dates_and_numbers(alice_client, busy_user, plans):
    html = alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    today = utc_today()
    thai_months = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
    assert f"{today.day} {thai_months[today.month - 1]} {today.year}" in html
    assert f">{today.isoformat()} " not in html
    usage = alice_client.get("/usage/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert "00:00" in usage and "UTC" in usage and "เวลาประเทศไทย" in usage  # when the day starts again
    plans["30RequestPerDay"].requests_per_day = 12000
    plans["30RequestPerDay"].save()
    assert "12,000" in alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="th").content.decode()


def test_english_pages_stay_english(alice_client, busy_user, plans):
    visitor = Client()
    for page_client, path in [*((visitor, p) for p in THAI_PAGES), *((alice_client, p) for p in SIGNED_IN_THAI_PAGES)]:
        html = page_client.get(path, HTTP_ACCEPT_LANGUAGE="en", follow=True).content.decode()
        parser = VisibleText()
        parser.feed(html)
        thai = {part.strip() for part in parser.parts if THAI.search(part)}
        assert '<html lang="en">' in html and thai <= {"ภาษาไทย"}, path  # only the switch's own name for Thai
    keys = alice_client.get("/keys/").content.decode()
    assert "Generate Key" in keys and f"{utc_today().isoformat()} " in keys


def test_the_language_switch_is_on_every_page_and_remembered(alice_client, user, plans):
    visitor = Client()
    for page_client, path in [
        (visitor, "/"),
        (visitor, "/accounts/login/"),
        (alice_client, "/keys/"),
        (alice_client, "/usage/"),
    ]:
        html = page_client.get(path).content.decode()
        assert 'action="/i18n/setlang/"' in html and 'value="th"' in html and "ภาษาไทย" in html, path
    response = alice_client.post("/i18n/setlang/", {"language": "th", "next": "/keys/"})
    assert response.status_code == 302 and response["location"] == "/keys/"
    assert '<html lang="th">' in alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert AccountSettings.objects.get(user=user).language == "th"  # kept for mail sent off any request
    alice_client.post("/i18n/setlang/", {"language": "fr", "next": "/keys/"})  # Django speaks it; Tollgate does not
    assert AccountSettings.objects.get(user=user).language == "th"
    alice_client.post("/i18n/setlang/", {"language": "en", "next": "/keys/"})
    assert '<html lang="en">' in alice_client.get("/keys/", HTTP_ACCEPT_LANGUAGE="th").content.decode()
    assert visitor.post("/i18n/setlang/", {"language": "xx", "next": "/"}).cookies.get("django_language") is None


def test_english_is_the_default(client, plans):
    assert '<html lang="en">' in client.get("/").content.decode()
    assert '<html lang="en">' in client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content.decode()


@pytest.mark.django_db(transaction=True)  # the mail thread reads the database too
def test_usage_mail_speaks_the_language_the_user_chose(alice_client, user, key_factory):
    key, _ = key_factory(user)
    alice_client.post("/i18n/setlang/", {"language": "th", "next": "/"})
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=100).result() is True
    message = mail.outbox[-1]
    reset = period_bounds("day", "UTC")[1]
    thai_months = ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."]
    assert "ใช้คำขอของวันนี้ครบแล้ว" in message.subject and "ครั้งต่อวันแล้ว" in message.body
    assert re.search(rf"จนถึง \S+ {reset.day} {re.escape(thai_months[reset.month - 1])} 00:00 UTC", message.body)
    assert "Limit Exceeded" in message.body  # what the API will answer, quoted as it is
    alice_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert alerts.alert_later(key_id=key.pk, day=utc_today(), kind="requests", percent=80).result() is True
    assert mail.outbox[-1].subject == f"Tollgate: key {key.public_prefix} has used 80% of today's requests"


# -- the API stays English ----------------------------------------------------------------------------------------


def test_api_bodies_stay_english_whatever_the_language(alice_client, user, plans, key_factory):
    thai = {"HTTP_ACCEPT_LANGUAGE": "th"}
    client = Client()
    client.cookies["django_language"] = "th"
    alice_client.cookies["django_language"] = "th"
    assert client.get("/api/v1/keys/", **thai).json() == {"detail": "Authentication credentials were not provided."}
    response = alice_client.post("/api/v1/keys/", {"plan": "NoSuchPlan"}, content_type="application/json", **thai)
    assert response.status_code == 400 and "Unknown plan 'NoSuchPlan'" in response.content.decode()
    key_factory(user, "10RequestPerDay")
    response = alice_client.post(
        "/create_key", {"plan_name": "10RequestPerDay"}, content_type="application/json", **thai
    )
    assert response.status_code == 409 and response.json()["message"] == "Key already exists"
    assert "Content-Language" not in response or response["Content-Language"] == "en"
    assert client.get("/healthz", **thai).json()["status"] == "ok"


def test_allauth_mail_is_thai_for_a_thai_reader(client, user):
    client.post("/accounts/password/reset/", {"email": user.email}, HTTP_ACCEPT_LANGUAGE="th")
    body = mail.outbox[-1].body
    assert "คุณได้รับอีเมลนี้เพราะคุณหรือใครบางคนขอรีเซ็ตรหัสผ่าน" in body and "receiving" not in body


def test_the_admin_is_thai_for_a_thai_staff_member(client, user_factory, plans, key_factory):
    """Django's own admin words (its Thai dates from 2019) and Tollgate's models, fields and actions."""
    staff = user_factory("staff@example.com", is_staff=True, is_superuser=True)
    key, _ = key_factory(staff)
    client.force_login(staff)
    pages = {
        "/admin/": "แพ็กเกจและคีย์ API",
        "/admin/keys/plan/": "คีย์ที่ใช้งานได้",
        f"/admin/keys/plan/{plans['10RequestPerDay'].pk}/change/": "คำขอต่อรอบ",
        "/admin/keys/apikey/": "เพิกถอนคีย์ที่เลือก",
        f"/admin/keys/apikey/{key.pk}/change/": "คำนำหน้าคีย์",
        "/admin/keys/dailyusage/": "การใช้งานรายวัน",
        "/admin/accounts/auditevent/": "สร้างคีย์",
        "/admin/gateway/upstream/add/": "ตัวแปรสภาพแวดล้อมของคีย์ API",
        "/admin/gateway/catalogmodel/add/": "แพ็กเกจที่ให้ใช้โมเดลนี้",
        "/admin/chat/conversation/": "บทสนทนา",
        "/admin/usage/": "ภาพรวมการใช้งาน",
    }
    # Names Django's templates or other apps leave in English, and words staff type or read as they are.
    kept = [
        staff.email, key.public_prefix, "KEYS_BACKEND=aws", "usage plan", "“Control”", "“Command”", "Mac",
        "URL", "True", "False", "Authenticators", "(MFA)", 'alt="Search"', "key.created", "account.logged_in",
        "TOLLGATE_UPSTREAM_", "TOLLGATE_CURRENCY", "max_tokens", "IANA", "Asia/Bangkok",
        *plans, *(plan.description for plan in plans.values()), "Starter", "Standard", "Plus",
    ]  # fmt: skip
    for path, words in pages.items():
        html = client.get(path, HTTP_ACCEPT_LANGUAGE="th").content.decode().replace('alt="Search"', "")
        assert '<html lang="th"' in html and words in html, path
        left = english_left(html, *kept)
        assert not left, (path, sorted(left))
