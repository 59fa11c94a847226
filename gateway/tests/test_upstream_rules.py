"""Staff who edit upstreams cannot reach server secrets: key variables by prefix, addresses by range."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from gateway.models import Upstream

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def load(tmp_path, data: dict) -> str:
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(data))
    out = StringIO()
    call_command("load_models", str(path), stdout=out)
    return out.getvalue()


def upstream_form(**fields) -> dict:
    return {"name": "main", "base_url": "https://llm.example.com/v1", "timeout": 60, "weight": 1, **fields}


@pytest.mark.parametrize(
    "variable", ["DJANGO_SECRET_KEY", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "TOLLGATE_UPSTREAM_"]
)
def test_load_models_refuses_a_variable_without_the_prefix(tmp_path, plans, variable):
    data = {"upstreams": [{"name": "u", "base_url": "https://llm.example.com/v1", "api_key_env": variable}]}
    with pytest.raises(CommandError, match="must start with TOLLGATE_UPSTREAM_"):
        load(tmp_path, data)
    assert not Upstream.objects.exists()


def test_the_admin_refuses_a_variable_without_the_prefix(staff_client, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "server-secret")
    response = staff_client.post("/admin/gateway/upstream/add/", upstream_form(api_key_env="DJANGO_SECRET_KEY"))
    assert response.status_code == 200 and "must start with TOLLGATE_UPSTREAM_" in response.content.decode()
    assert not Upstream.objects.exists()


def test_the_prefix_is_a_setting(settings, monkeypatch):
    settings.UPSTREAM_KEY_ENV_PREFIX = "LLM_KEYS_"
    monkeypatch.setenv("LLM_KEYS_MAIN", "sk-main")
    upstream = Upstream(name="u", base_url="https://llm.example.com/v1", api_key_env="LLM_KEYS_MAIN")
    upstream.full_clean()
    assert upstream.api_key == "sk-main"
    settings.UPSTREAM_KEY_ENV_PREFIX = ""
    assert any(error.id == "gateway.E002" for error in run_checks())


def test_a_row_saved_before_the_rule_reads_no_other_variable(monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "server-secret")
    upstream = Upstream.objects.create(name="old", base_url="https://x.example.com/v1", api_key_env="DJANGO_SECRET_KEY")
    assert upstream.api_key == "" and not upstream.has_api_key


def test_moving_base_url_in_the_admin_removes_the_sealed_key(staff_client):
    staff_client.post("/admin/gateway/upstream/add/", upstream_form(api_key="sk-typed"))
    upstream = Upstream.objects.get()
    change = f"/admin/gateway/upstream/{upstream.pk}/change/"
    staff_client.post(change, upstream_form(base_url="https://elsewhere.example.com/v1"))
    upstream.refresh_from_db()
    assert upstream.base_url == "https://elsewhere.example.com/v1" and upstream.api_key == ""
    staff_client.post(change, upstream_form(api_key="sk-again"))
    staff_client.post(change, upstream_form(base_url="https://third.example.com/v1", api_key="sk-again"))
    upstream.refresh_from_db()
    assert upstream.api_key == "sk-again"  # given again in the same save
    staff_client.post(change, upstream_form(base_url="https://third.example.com/v1", weight=2))
    upstream.refresh_from_db()
    assert upstream.api_key == "sk-again"  # other edits keep it


def test_moving_base_url_in_the_file_removes_the_sealed_key_unless_given(tmp_path, plans):
    entry = {"name": "u", "base_url": "https://llm.example.com/v1", "api_key": "sk-one"}
    load(tmp_path, {"upstreams": [entry]})
    out = load(tmp_path, {"upstreams": [{"name": "u", "base_url": "https://other.example.com/v1"}]})
    assert "api_key removed" in out and Upstream.objects.get().api_key == ""
    load(tmp_path, {"upstreams": [entry]})
    assert Upstream.objects.get().api_key == "sk-one"  # moved back with the key given again


def test_saving_a_moved_upstream_in_code_drops_the_key_too():
    upstream = Upstream(name="u", base_url="https://llm.example.com/v1")
    upstream.set_api_key("sk-one")
    upstream.save()
    upstream = Upstream.objects.get()
    upstream.base_url = "https://listener.example.net/v1"
    upstream.save()
    assert Upstream.objects.get().sealed_api_key == ""


@pytest.mark.parametrize(
    "url",
    [
        "ftp://llm.example.com/v1",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/v1",
        "http://[::ffff:169.254.169.254]/v1",
    ],
)
def test_other_schemes_and_link_local_are_always_refused(url):
    with pytest.raises(ValidationError):
        Upstream(name="u", base_url=url).full_clean()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost:11434/v1",
        "http://10.0.0.5:8000/v1",
        "http://192.168.1.2/v1",
        "http://[::1]:8000/v1",
        "http://0.0.0.0:8000/v1",
    ],
)
def test_private_addresses_only_when_allowed(settings, url):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError, match="UPSTREAM_ALLOW_PRIVATE"):
        Upstream(name="u", base_url=url).full_clean()
    settings.UPSTREAM_ALLOW_PRIVATE = True
    Upstream(name="u", base_url=url).full_clean()


def test_load_models_refuses_a_private_address_when_not_allowed(tmp_path, plans, settings):
    settings.UPSTREAM_ALLOW_PRIVATE = False
    with pytest.raises(CommandError, match="upstream 'local': .*UPSTREAM_ALLOW_PRIVATE"):
        load(tmp_path, {"upstreams": [{"name": "local", "base_url": "http://127.0.0.1:6379/"}]})
    load(tmp_path, {"upstreams": [{"name": "public", "base_url": "https://api.example.com/v1"}]})


def test_the_list_shows_whether_a_key_is_set_not_which_variables_exist(staff_client, monkeypatch):
    monkeypatch.setenv("TOLLGATE_UPSTREAM_PRESENT", "sk-there")
    Upstream.objects.create(
        name="present", base_url="https://a.example.com/v1", api_key_env="TOLLGATE_UPSTREAM_PRESENT"
    )
    Upstream.objects.create(name="absent", base_url="https://b.example.com/v1", api_key_env="TOLLGATE_UPSTREAM_ABSENT")
    page = staff_client.get("/admin/gateway/upstream/").content.decode()
    assert "TOLLGATE_UPSTREAM_PRESENT" not in page and "TOLLGATE_UPSTREAM_ABSENT" not in page
    rows = {name: row for row in page.split("<tr")[1:] for name in ("present", "absent") if f">{name}<" in row}
    assert 'alt="True"' in rows["present"].split('field-key_set"')[1].split("</td>")[0]
    absent = rows["absent"].split('field-key_set"')[1].split("</td>")[0]
    assert 'class="errornote-inline"' in absent and "(not set)" in absent  # in red: it is never called


@pytest.mark.parametrize(("debug", "expected"), [("1", "True"), ("0", "False")])
def test_private_upstreams_are_allowed_by_default_only_in_debug(debug, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("UPSTREAM_ALLOW_PRIVATE", "DJANGO_DEBUG")}
    code = "import django; django.setup(); from django.conf import settings as s; print(s.UPSTREAM_ALLOW_PRIVATE)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings", "DJANGO_DEBUG": debug},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.split() == [expected], result.stderr
