"""The house's layering: imports run one way, bottom up, and nobody reaches into another package's rooms."""

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
# Each may import only itself and those before it.
LAYERS = [
    "plumbing",
    "keys",
    "accounts",
    "teams",
    "usage",
    "requestlog",
    "apigateway",
    "gateway",
    "webhooks",
    "chat",
    "portal",
]
# Packages with a door: outside them, only the door itself is imported, never a module behind it.
DOORS = ["keys.metering"]
# The chat app keeps only what is its own: the model call goes through the gateway's door.
CHAT_MAY_USE = {"gateway", "gateway.calls", "gateway.http", "gateway.refusals"}


def source_files(app: str, root: Path = ROOT):
    for path in sorted((root / app).rglob("*.py")):
        parts = path.relative_to(root).parts
        if "tests" in parts or "migrations" in parts:
            continue
        yield path


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def present_layers(root: Path = ROOT) -> list[str]:
    return [app for app in LAYERS if (root / app).is_dir()]


def upward_imports(root: Path = ROOT) -> list[str]:
    layers, upward = present_layers(root), []
    for app in layers:
        for path in source_files(app, root):
            for line, name in imports(path):
                top = name.split(".")[0]
                if top in layers and layers.index(top) > layers.index(app):
                    upward.append(f"{path.relative_to(root)}:{line} imports {name}")
    return sorted(set(upward))


def test_imports_run_one_way_from_the_bottom_up():
    upward = upward_imports()
    assert not upward, "imports that run upward:\n" + "\n".join(upward)


def test_nobody_reaches_past_a_door():
    reaching = []
    for app in present_layers():
        for path in source_files(app):
            module = module_of(path)
            for line, name in imports(path):
                for door in DOORS:
                    inside = module == door or module.startswith(door + ".")
                    if not inside and name.startswith(door + ".") and _is_module(name):
                        reaching.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not reaching, "imports past a package's door:\n" + "\n".join(sorted(set(reaching)))


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def test_nobody_imports_another_apps_private_names():
    private = []
    for app in present_layers():
        for path in source_files(app):
            for line, name in imports(path):
                top, last = name.split(".")[0], name.rsplit(".", 1)[-1]
                if top != app and top in LAYERS and last.startswith("_") and not last.startswith("__"):
                    private.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not private, "imports of another package's private names:\n" + "\n".join(sorted(set(private)))


def test_chat_calls_the_model_through_the_gateways_door():
    used = set()
    for path in source_files("chat"):
        for _, name in imports(path):
            if name.split(".")[0] == "gateway" and _is_module(name):
                used.add(name)
    assert used <= CHAT_MAY_USE, f"chat reaches into gateway modules {sorted(used - CHAT_MAY_USE)}"


def test_the_layering_test_sees_an_upward_import(tmp_path):
    """The check reads real imports: one planted in a copy of the layout is found, and only that one."""
    for app in ("keys", "chat"):
        (tmp_path / app).mkdir()
    (tmp_path / "chat" / "answers.py").write_text("from keys import metering\n", encoding="utf-8")
    (tmp_path / "keys" / "probe.py").write_text("import json\nfrom chat.answers import reply\n", encoding="utf-8")
    assert upward_imports(tmp_path) == [
        "keys/probe.py:2 imports chat.answers",
        "keys/probe.py:2 imports chat.answers.reply",
    ]


def test_no_app_holds_more_than_a_third_of_the_code():
    """Apps with one job each: none is over 35% of the code (tests and migrations not counted)."""
    lines = {app: sum(len(p.read_text(encoding="utf-8").splitlines()) for p in source_files(app)) for app in LAYERS}
    total = sum(lines.values())
    assert all(count / total <= 0.35 for count in lines.values()), {a: f"{n / total:.0%}" for a, n in lines.items()}
