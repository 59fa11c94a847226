"""The catalogue file read strictly: every field known, typed and bounded before anything is saved."""

import difflib
import json
import math
from collections.abc import Callable
from decimal import Decimal

from keys.money import MoneyError, money_parse

MAX_DEPTH = 8  # the format nests four levels; anything deeper is a mistake, never data
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 3600.0


class CatalogueFileError(ValueError):
    """The file cannot be loaded as it is; the message says where and why."""


def _text(value: object) -> bool:
    return isinstance(value, str) and value != "" and "\x00" not in value


def _names(value: object) -> bool:
    return isinstance(value, list) and all(_text(v) for v in value)


def _whole(low: int, high: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


def _seconds(value: object) -> bool:
    number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    return number and math.isfinite(value) and MIN_TIMEOUT <= value <= MAX_TIMEOUT


PRICE_PARTS = ("input_per_million", "output_per_million", "per_request")


def _price(value: object) -> bool:
    """An object of optional price parts; each part's own problem is named by price_problem()."""
    return isinstance(value, dict) and all(key in PRICE_PARTS for key in value)


def price_problem(where: str, price: dict) -> str:
    """What is wrong with a price's parts, naming the part; '' if nothing."""
    for part, value in price.items():
        try:
            money_parse(value)
        except MoneyError as exc:
            shown = (str(value) if isinstance(value, Decimal) else json.dumps(value))[:60]
            return f"{where}: 'price.{part}' {exc}, not {shown}."
    return ""


KINDS = ("chat", "completion", "embedding", "image", "audio", "moderation", "responses")
# Each field: (check, what a valid value is, required).
UPSTREAM_FIELDS: dict[str, tuple[Callable[[object], bool], str, bool]] = {
    "name": (_text, "a non-empty string", True),
    "base_url": (_text, "a URL string", True),
    "api_key": (_text, "a non-empty string", False),
    "api_key_env": (_text, "an environment variable's name", False),
    "weight": (_whole(1, 1000), "a whole number from 1 to 1000", False),
    "timeout": (_seconds, f"a number of seconds from {MIN_TIMEOUT:.0f} to {MAX_TIMEOUT:.0f}", False),
    "max_concurrent": (_whole(1, 100_000), "a whole number from 1 to 100000", False),
}
MODEL_FIELDS: dict[str, tuple[Callable[[object], bool], str, bool]] = {
    "name": (_text, "a non-empty string", True),
    "upstream_model": (lambda v: v == "" or _text(v), "a string", False),
    "upstreams": (lambda v: _names(v) and bool(v), "a non-empty list of upstream names", True),
    "kind": (lambda v: v in KINDS, "one of " + ", ".join(KINDS), False),
    "price": (_price, "an object with any of " + ", ".join(PRICE_PARTS), False),
    "max_output_tokens": (_whole(1, 10_000_000), "a whole number from 1 to 10000000", False),
}
TOP_FIELDS = ("upstreams", "models", "plans")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise CatalogueFileError(f"The key {repeated[0]!r} appears twice in one object; keep one.")
    return dict(pairs)


def _depth(data: object) -> int:
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def catalogue_parse(text: str) -> dict:
    """The file's JSON, refusing repeated keys, NaN/Infinity and nesting deeper than the format has."""

    def constant(name: str) -> None:
        raise CatalogueFileError(f"{name} is not a number this file accepts.")

    try:
        # Decimals, not floats: a price of 0.1 must stay exactly 0.1.
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=constant, parse_float=Decimal)
    except RecursionError:
        raise CatalogueFileError(f"The JSON is nested far deeper than the format's {MAX_DEPTH} levels.") from None
    except ValueError as exc:
        if isinstance(exc, CatalogueFileError):
            raise
        raise CatalogueFileError(f"This is not valid JSON: {exc}") from exc
    if _depth(data) > MAX_DEPTH:
        raise CatalogueFileError(f"The JSON is nested deeper than the format's {MAX_DEPTH} levels.")
    if not isinstance(data, dict):
        raise CatalogueFileError("The file must hold a JSON object with 'upstreams', 'models' and 'plans'.")
    return data


def _unknown(where: str, keys: object, known: tuple[str, ...] | dict) -> None:
    for key in keys:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; known fields: {', '.join(known)}"
            raise CatalogueFileError(f"{where}: unknown field {key!r}{hint}.")


def _entry(kind: str, index: int, item: object, fields: dict) -> str:
    if not isinstance(item, dict):
        raise CatalogueFileError(f"{kind}s[{index}] must be an object, not {type(item).__name__}.")
    name = item.get("name")
    where = f"{kind} {name!r}" if _text(name) else f"{kind}s[{index}] (no valid 'name')"
    _unknown(where, item, fields)
    for field, (check, meaning, required) in fields.items():
        if field not in item:
            if required:
                raise CatalogueFileError(f"{where}: '{field}' is missing; it must be {meaning}.")
        elif not check(item[field]):
            raise CatalogueFileError(
                f"{where}: '{field}' must be {meaning}, not {json.dumps(item[field], default=str)[:60]}."
            )
    return name


def _no_repeats(where: str, names: list[str]) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise CatalogueFileError(f"{where}: {repeated[0]!r} appears more than once.")


def catalogue_check(data: dict) -> None:
    """Refuse the whole file at its first problem, naming the entry by its name and the field by its own."""
    _unknown("the file", data, TOP_FIELDS)
    upstreams, models, plans = data.get("upstreams", []), data.get("models", []), data.get("plans", {})
    if not isinstance(upstreams, list) or not isinstance(models, list):
        raise CatalogueFileError("'upstreams' and 'models' must be lists.")
    if not isinstance(plans, dict):
        raise CatalogueFileError("'plans' must be an object of plan name to a list of model names.")
    names = [_entry("upstream", i, item, UPSTREAM_FIELDS) for i, item in enumerate(upstreams)]
    _no_repeats("upstreams", names)
    for item in upstreams:
        if "api_key" in item and "api_key_env" in item:
            raise CatalogueFileError(f"upstream {item['name']!r}: give 'api_key' or 'api_key_env', not both.")
    _no_repeats("models", [_entry("model", i, item, MODEL_FIELDS) for i, item in enumerate(models)])
    for item in models:
        _no_repeats(f"model {item['name']!r}: upstreams", item["upstreams"])
        problem = price_problem(f"model {item['name']!r}", item.get("price", {}))
        if problem:
            raise CatalogueFileError(problem)
    for plan, granted in plans.items():
        if not _names(granted):
            raise CatalogueFileError(f"plans.{plan} must be a list of model names.")
        _no_repeats(f"plans.{plan}", granted)
