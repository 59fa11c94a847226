"""load_models refuses, by name and with a reason, every file it would otherwise misread."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from gateway.models import CatalogModel, Upstream

pytestmark = pytest.mark.django_db
URL = "https://llm.example.com/v1"


def load_text(tmp_path, text: str, *args: str) -> str:
    path = tmp_path / "catalogue.json"
    path.write_text(text)
    out = StringIO()
    call_command("load_models", str(path), *args, stdout=out)
    return out.getvalue()


def load(tmp_path, data: object, *args: str) -> str:
    return load_text(tmp_path, json.dumps(data), *args)


def upstream(**fields) -> dict:
    return {"name": "main", "base_url": URL, "api_key": "sk-main", **fields}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"upstreams": [upstream(apikey="sk")]}, "upstream 'main': unknown field 'apikey' (did you mean 'api_key'?)"),
        ({"upstreams": [upstream(wieght=2)]}, "upstream 'main': unknown field 'wieght' (did you mean 'weight'?)"),
        ({"upstream": []}, "the file: unknown field 'upstream' (did you mean 'upstreams'?)"),
        ({"upstreams": [upstream(), upstream()]}, "upstreams: 'main' appears more than once"),
        (
            {"upstreams": [upstream()], "models": [{"name": "m", "upstreams": ["main"]}] * 2},
            "models: 'm' appears more than once",
        ),
        ({"upstreams": [upstream(timeout=0)]}, "upstream 'main': 'timeout' must be a number of seconds"),
        ({"upstreams": [upstream(timeout=86400)]}, "'timeout' must be a number of seconds from 1 to 3600"),
        ({"upstreams": [upstream(timeout="30")]}, "'timeout' must be a number of seconds"),
        ({"upstreams": [upstream(weight=True)]}, "'weight' must be a whole number"),
        ({"upstreams": [upstream(weight=1.5)]}, "'weight' must be a whole number"),
        ({"upstreams": [upstream(max_concurrent=-1)]}, "'max_concurrent' must be a whole number"),
        ({"upstreams": [upstream(api_key=["sk"])]}, "upstream 'main': 'api_key' must be a non-empty string"),
        ({"upstreams": [upstream(name=["main"])]}, "upstreams[0] (no valid 'name'): 'name' must be"),
        ({"upstreams": [{"name": "main"}]}, "upstream 'main': 'base_url' is missing"),
        ({"upstreams": [upstream(base_url="ftp://llm.example.com/v1")]}, "upstream 'main': Use an http:// or https://"),
        ({"upstreams": [["main", URL]]}, "upstreams[0] must be an object, not list"),
        ({"upstreams": [upstream(api_key_env="TOLLGATE_UPSTREAM_X")]}, "give 'api_key' or 'api_key_env', not both"),
        ({"models": [{"name": "m", "upstreams": [{"name": "main"}]}]}, "model 'm': 'upstreams' must be a non-empty"),
        ({"models": [{"name": "m", "upstreams": "main"}]}, "model 'm': 'upstreams' must be a non-empty list"),
        ({"models": [{"name": "m", "upstreams": []}]}, "model 'm': 'upstreams' must be a non-empty list"),
        ({"models": [{"name": "m", "upstreams": ["a"], "prise": {}}]}, "unknown field 'prise' (did you mean 'price'?)"),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"input_per_million": -1}}]},
            "model 'm': 'price.input_per_million' must not be negative, not -1",
        ),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"per_request": "abc"}}]},
            "model 'm': 'price.per_request' must be a number or a decimal string, not \"abc\"",
        ),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"output_per_million": "0.1234567"}}]},
            "model 'm': 'price.output_per_million' has more than 6 decimal places",
        ),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"output_per_million": 0.0000001}}]},
            "'price.output_per_million' has more than 6 decimal places",
        ),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"input": 1}}]},
            "model 'm': 'price' must be an object with any of input_per_million, output_per_million, per_request",
        ),
        (
            {"models": [{"name": "m", "upstreams": ["a"], "price": {"per_request": True}}]},
            "'price.per_request' must be a number or a decimal string",
        ),
        ({"models": [{"name": "m", "upstreams": ["a"], "max_output_tokens": 0}]}, "'max_output_tokens' must be"),
        ({"plans": {"10RequestPerDay": "m"}}, "plans.10RequestPerDay must be a list of model names"),
        ({"plans": {"10RequestPerDay": [{"name": "m"}]}}, "plans.10RequestPerDay must be a list of model names"),
        ({"plans": []}, "'plans' must be an object"),
        ({"upstreams": {"main": upstream()}}, "'upstreams' and 'models' must be lists"),
        ({"upstreams": [upstream(name="a\x00b")]}, "upstreams[0] (no valid 'name')"),
    ],
)
def test_a_strict_refusal_names_the_entry_and_the_field(tmp_path, plans, data, message):
    with pytest.raises(CommandError) as error:
        load(tmp_path, data)
    assert message in str(error.value) and "Nothing was changed" in str(error.value)
    assert not Upstream.objects.exists() and not CatalogModel.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"upstreams": [{"name": "main", "base_url": "https://llm.example.com/v1", "timeout": 1e999}]}',
            "'timeout' must be a number",
        ),
        (
            '{"upstreams": [{"name": "main", "base_url": "https://llm.example.com/v1", "timeout": NaN}]}',
            "NaN is not a number",
        ),
        (
            '{"upstreams": [{"name": "a", "name": "b", "base_url": "https://llm.example.com/v1"}]}',
            "The key 'name' appears twice",
        ),
        ('{"plans": {"10RequestPerDay": [], "10RequestPerDay": ["m"]}}', "The key '10RequestPerDay' appears twice"),
        ("[" * 100_000 + "]" * 100_000, "nested far deeper"),
        ('{"plans": {"10RequestPerDay": ' + "[" * 20 + "]" * 20 + "}}", "nested deeper than the format's"),
        ("{", "not valid JSON"),
    ],
)
def test_json_the_format_never_holds_is_refused_without_a_traceback(tmp_path, plans, text, message):
    with pytest.raises(CommandError, match="Nothing was changed") as error:
        load_text(tmp_path, text)
    assert message in str(error.value)


def test_an_unset_key_variable_is_refused_unless_allowed(tmp_path, plans, monkeypatch):
    monkeypatch.delenv("TOLLGATE_UPSTREAM_MISSING", raising=False)
    data = {"upstreams": [{"name": "main", "base_url": URL, "api_key_env": "TOLLGATE_UPSTREAM_MISSING"}]}
    with pytest.raises(CommandError, match="TOLLGATE_UPSTREAM_MISSING is not set in this environment"):
        load(tmp_path, data)
    assert "created 1" in load(tmp_path, data, "--allow-unset-env")


def test_the_summary_counts_created_changed_and_unchanged(tmp_path, plans):
    data = {
        "upstreams": [upstream(), upstream(name="spare")],
        "models": [{"name": "m", "upstreams": ["main"]}],
        "plans": {"10RequestPerDay": ["m"]},
    }
    assert load(tmp_path, data, "--dry-run").splitlines()[-1] == (
        "would change 4 of 4 entries (created 3, changed 1, unchanged 0)"
    )
    assert load(tmp_path, data).splitlines()[-1] == "changed 4 of 4 entries (created 3, changed 1, unchanged 0)"
    data["upstreams"][1]["weight"] = 5
    assert load(tmp_path, data).splitlines()[-1] == "changed 1 of 4 entries (created 0, changed 1, unchanged 3)"


def test_a_big_file_prints_a_summary_not_a_line_per_entry(tmp_path, upstream_server):
    import io

    from django.core.management import call_command

    models = [{"name": f"m{i}", "upstreams": ["loop"]} for i in range(300)]
    path = tmp_path / "big.json"
    path.write_text(
        json.dumps({"upstreams": [{"name": "loop", "base_url": upstream_server.base_url}], "models": models})
    )
    out = io.StringIO()
    call_command("load_models", str(path), stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) <= 22 and "and 281 more" in lines[-2]
    assert lines[-1] == "changed 301 of 301 entries (created 301, changed 0, unchanged 0)"
    again = io.StringIO()
    call_command("load_models", str(path), stdout=again)
    assert again.getvalue().splitlines() == ["changed 0 of 301 entries (created 0, changed 0, unchanged 301)"]
    every = io.StringIO()
    call_command("load_models", str(path), stdout=every, verbosity=2)
    assert len(every.getvalue().splitlines()) == 302


def test_prices_load_exactly_as_written_and_a_second_load_changes_nothing(tmp_path, plans):
    from decimal import Decimal

    text = (
        '{"upstreams": [{"name": "main", "base_url": "URL", "api_key": "sk"}], "models": ['
        '{"name": "cheap", "upstreams": ["main"], "max_output_tokens": 512,'
        ' "price": {"input_per_million": 0.1, "output_per_million": "1.50", "per_request": 0.000001}},'
        ' {"name": "free", "upstreams": ["main"]}]}'
    ).replace("URL", URL)
    load_text(tmp_path, text)
    cheap = CatalogModel.objects.get(name="cheap")
    assert cheap.price_input_per_million == Decimal("0.1") and cheap.price_output_per_million == Decimal("1.5")
    assert cheap.price_per_request == Decimal("0.000001") and cheap.max_output_tokens == 512
    assert cheap.price.cost(1_000_000, 1_000_000) == 1_600_001_000  # 0.1 + 1.5 + 0.000001, in nanos
    assert CatalogModel.objects.get(name="free").price is None
    again = load_text(tmp_path, text)
    assert "0 created, 0 changed" in again or "unchanged" in again
