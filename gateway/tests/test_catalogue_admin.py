"""The catalogue's admin, its file loader, and its secrets at rest."""

import asyncio
import json
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gateway import balancer
from gateway.catalogue import Route, Target
from gateway.errors import UpstreamError
from gateway.models import CatalogModel, Upstream
from keys.models import Plan

pytestmark = pytest.mark.django_db

THAI_ENV = "TOLLGATE_UPSTREAM_THAI_KEY"
CATALOGUE = {
    "upstreams": [
        {"name": "main", "base_url": "http://10.0.0.5:8000/v1", "api_key": "sk-main-secret", "weight": 3},
        {"name": "thai", "base_url": "http://10.0.0.6:8000/v1", "api_key_env": THAI_ENV, "timeout": 30},
    ],
    "models": [
        {"name": "chat", "upstream_model": "llama-3-70b", "upstreams": ["main", "thai"]},
        {"name": "typhoon", "upstreams": ["thai"]},
    ],
    "plans": {"10RequestPerDay": ["chat"]},
}


@pytest.fixture
def catalogue_file(tmp_path, plans, monkeypatch):
    monkeypatch.setenv(THAI_ENV, "sk-thai")

    def write(data: object) -> str:
        path = tmp_path / "catalogue.json"
        path.write_text(json.dumps(data))
        return str(path)

    return write


def load(path: str, *args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_models", path, *args, stdout=out)
    return out.getvalue()


def test_load_models_creates_then_changes_nothing(catalogue_file):
    path = catalogue_file(CATALOGUE)
    first = load(path)
    assert "create upstream main" in first and "create model chat" in first and "update plan 10RequestPerDay" in first
    main = Upstream.objects.get(name="main")
    assert main.weight == 3 and main.api_key == "sk-main-secret" and "sk-main-secret" not in main.sealed_api_key
    thai = Upstream.objects.get(name="thai")
    assert thai.timeout == 30 and thai.api_key_env == "TOLLGATE_UPSTREAM_THAI_KEY"
    chat = CatalogModel.objects.get(name="chat")
    assert chat.served_as == "llama-3-70b" and {u.name for u in chat.upstreams.all()} == {"main", "thai"}
    assert CatalogModel.objects.get(name="typhoon").served_as == "typhoon"  # upstream_model defaults to name
    assert list(Plan.objects.get(name="10RequestPerDay").models.values_list("name", flat=True)) == ["chat"]
    second = load(path)
    assert "changed 0 of 5 entries" in second


def test_dry_run_prints_the_changes_and_saves_nothing(catalogue_file):
    out = load(catalogue_file(CATALOGUE), "--dry-run")
    assert "create upstream main" in out and "would change 5 of 5" in out
    assert not Upstream.objects.exists() and not CatalogModel.objects.exists()


def test_an_edit_updates_only_what_changed(catalogue_file):
    load(catalogue_file(CATALOGUE))
    edited = json.loads(json.dumps(CATALOGUE))
    edited["upstreams"][0]["api_key"] = "sk-rotated"
    edited["models"][1]["upstreams"] = ["main"]
    out = load(catalogue_file(edited))
    assert "update upstream main (api_key)" in out and "update model typhoon (upstreams)" in out
    assert "changed 2 of 5" in out and Upstream.objects.get(name="main").api_key == "sk-rotated"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"models": [{"name": "x", "upstreams": ["nowhere"]}]}, "unknown upstream(s) nowhere"),
        ({"plans": {"Gold": []}}, "unknown plan Gold"),
        ({"upstreams": [{"name": "bad name!", "base_url": "http://x/v1"}]}, "upstream 'bad name!'"),
        ({"upstreams": [{"name": "u", "base_url": "not a url"}]}, "Enter a valid URL"),
        (
            {"upstreams": [{"name": "u", "base_url": "http://x/v1", "weight": "heavy"}]},
            "'weight' must be a whole number",
        ),
        (
            {"upstreams": [{"name": "u", "base_url": "http://x/v1", "timeout": -1}]},
            "'timeout' must be a number of seconds",
        ),
    ],
)
def test_a_bad_file_is_refused_whole_with_a_clear_message(catalogue_file, data, message):
    with pytest.raises(CommandError, match="Nothing was changed") as error:
        load(catalogue_file(data))
    assert message in str(error.value)
    assert not Upstream.objects.exists()


def test_unreadable_and_malformed_files(tmp_path, plans):
    with pytest.raises(CommandError, match="Cannot read"):
        load(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(CommandError, match="not valid JSON"):
        load(str(broken))


def test_the_admin_sets_an_api_key_but_never_shows_it(staff_client, plans):
    response = staff_client.post(
        "/admin/gateway/upstream/add/",
        {"name": "main", "base_url": "http://10.0.0.5/v1", "api_key": "sk-admin-typed", "timeout": 60, "weight": 1},
    )
    assert response.status_code == 302
    upstream = Upstream.objects.get()
    assert upstream.api_key == "sk-admin-typed"
    page = staff_client.get(f"/admin/gateway/upstream/{upstream.pk}/change/").content.decode()
    assert "sk-admin-typed" not in page and upstream.sealed_api_key not in page and "stored (sealed)" in page
    staff_client.post(
        f"/admin/gateway/upstream/{upstream.pk}/change/",
        {"name": "main", "base_url": "http://10.0.0.5/v1", "api_key": "", "timeout": 60, "weight": 1},
    )
    assert Upstream.objects.get().api_key == "sk-admin-typed"  # an empty field keeps the key


def test_the_admin_lists_models_with_upstreams_grants_and_health(staff_client, catalogue_file):
    load(catalogue_file(CATALOGUE))
    Upstream.objects.filter(name="thai").update(last_error="timeout: The model server did not answer in time.")
    models_page = staff_client.get("/admin/gateway/catalogmodel/").content.decode()
    assert "llama-3-70b" in models_page and "main, thai" in models_page and "10RequestPerDay" in models_page
    thai = Upstream.objects.get(name="thai")
    detail = staff_client.get(f"/admin/gateway/upstream/{thai.pk}/change/").content.decode()
    assert "did not answer in time" in detail and "TOLLGATE_UPSTREAM_THAI_KEY" in detail


def test_a_database_dump_holds_no_upstream_key(catalogue_file):
    from io import StringIO

    load(catalogue_file(CATALOGUE))
    dump = StringIO()
    call_command("dumpdata", "gateway", stdout=dump)
    assert "sk-main-secret" not in dump.getvalue() and "sealed_api_key" in dump.getvalue()


def test_a_key_sealed_under_another_secret_reads_as_none(settings):
    upstream = Upstream(name="u", base_url="http://x/v1")
    upstream.set_api_key("sk-old")
    settings.SECRET_KEY = "a-new-secret-key"
    assert upstream.api_key == ""


def test_the_api_key_can_come_from_the_environment(monkeypatch):
    monkeypatch.setitem(os.environ, "TOLLGATE_UPSTREAM_KEY_FOR_TEST", "sk-from-env")
    upstream = Upstream(name="u", base_url="http://x/v1", api_key_env="TOLLGATE_UPSTREAM_KEY_FOR_TEST")
    assert upstream.api_key == "sk-from-env"


def test_a_failing_upstream_rests_then_is_tried_again(monkeypatch):
    a, b = (Target(i, name, None, 1, "m") for i, name in ((1, "a"), (2, "b")))
    route = Route("m", (a, b))
    clock = [1000.0]
    monkeypatch.setattr(balancer.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(balancer.health, "record_failure", lambda *args: None)
    for _ in range(balancer.FAILURES_TO_OPEN):
        balancer.note_failure(a, UpstreamError(502, UpstreamError.FAILED, "down"))
    assert all(balancer.order(route.targets)[0] is b for _ in range(20))  # a rests
    clock[0] += balancer.REST_SECONDS + 1
    assert {balancer.order(route.targets)[0].upstream_name for _ in range(60)} == {"a", "b"}


def test_a_resting_upstream_is_the_last_resort_before_a_502(monkeypatch):
    a, b = (Target(i, name, None, 1, "m") for i, name in ((1, "a"), (2, "b")))
    monkeypatch.setattr(balancer.health, "record_failure", lambda *args: None)
    monkeypatch.setattr(balancer.health, "record_success", lambda *args: None)
    for _ in range(balancer.FAILURES_TO_OPEN):
        balancer.note_failure(a, UpstreamError(502, UpstreamError.FAILED, "down"))
    tried = []

    async def attempt(target):
        tried.append(target.upstream_name)
        if target is b:
            raise UpstreamError(502, UpstreamError.FAILED, "down too")
        return "answered"

    result, target = asyncio.run(balancer.with_failover(Route("m", (a, b)), attempt))
    assert (result, target, tried) == ("answered", a, ["b", "a"])


def test_metrics_name_only_known_models(settings):
    from gateway.calls import model_label

    settings.LLM_BASE_URL, settings.LLM_MODEL = "http://127.0.0.1:9/v1", "loopback-model"
    default = Target(None, "default", None, 1, "x")
    assert model_label(Route("loopback-model", (default,))) == "loopback-model"
    assert model_label(Route("junk-4711", (default,))) == "other"  # without a catalogue any name is routed
    assert model_label(Route("first", (Target(3, "one", None, 1, "first"),))) == "first"


def test_weights_spread_requests(monkeypatch):
    heavy, light = Target(1, "heavy", None, 9, "m"), Target(2, "light", None, 1, "m")
    firsts = [balancer.order((heavy, light))[0].upstream_name for _ in range(2000)]
    assert 0.85 < firsts.count("heavy") / 2000 < 0.95
