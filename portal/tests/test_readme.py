"""The README's first run, command by command, as a newcomer types it on a fresh clone."""

import io
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from conftest import free_port

ROOT = Path(settings.BASE_DIR)
STAFF_EMAIL = "first-staff@example.com"


def first_run_commands() -> list[str]:
    """Every command in the fenced `sh` blocks of the README's "First run" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## First run\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^\s*```sh\n(.*?)^\s*```", section, flags=re.S | re.M)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


@pytest.fixture
def fresh_env(tmp_path) -> dict[str, str]:
    """A shell with no secret key and no debug flag, its own SQLite file and port; the staff user's
    email and password given the way the README says a script gives them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "LLM_", "TOLLGATE_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'first-run.sqlite3'}",
        PORT=str(free_port()),
        DJANGO_SUPERUSER_EMAIL=STAFF_EMAIL,
        DJANGO_SUPERUSER_PASSWORD="a long enough passphrase",
        VENV_READY="",  # the venv this test runs in is installed; `make` must not rebuild it
    )
    return env


def _serve_and_stop(command: str, env: dict[str, str]) -> str:
    """Start a `make run` command, wait for /healthz, stop it; what it printed."""
    process = subprocess.Popen(
        command, shell=True, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/healthz", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail(f"{command!r} did not serve within 90 s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # make, and the daphne it started: our own group only
        output, _ = process.communicate(timeout=30)
    return output.decode()


def test_the_readme_first_run_has_the_steps_the_issue_asks_for():
    commands = first_run_commands()
    assert any(c.startswith("make superuser") for c in commands)
    assert any("make models FILE=" in c for c in commands)
    assert any("LLM_BASE_URL=" in c and c.endswith("make run") for c in commands)


def test_every_first_run_command_works_as_written_on_a_fresh_database(fresh_env, tmp_path):
    database = tmp_path / "first-run.sqlite3"
    for command in first_run_commands():
        if command.endswith("make run"):
            output = _serve_and_stop(command, fresh_env)
            # The catalogue loaded above answers now, and the banner says so: not the demo model.
            assert "catalogue's 1 model(s) answer" in output, output
            assert "demo model" not in output
            continue
        result = subprocess.run(
            command, shell=True, cwd=ROOT, env=fresh_env, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        assert result.returncode == 0, f"{command!r} failed:\n{result.stdout}\n{result.stderr}"
    with sqlite3.connect(database) as db:
        staff = db.execute("SELECT is_staff, is_superuser, username FROM auth_user WHERE email = ?", (STAFF_EMAIL,))
        assert staff.fetchall() == [(1, 1, STAFF_EMAIL)]
        confirmed = db.execute('SELECT verified, "primary" FROM account_emailaddress WHERE email = ?', (STAFF_EMAIL,))
        assert confirmed.fetchall() == [(1, 1)]
        assert db.execute("SELECT name FROM gateway_catalogmodel").fetchall() == [("llama3.2",)]


@pytest.mark.django_db
def test_staff_create_without_a_terminal_or_the_variables_says_what_to_set(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_EMAIL"):
        call_command("staff_create")


@pytest.mark.django_db
def test_staff_create_refuses_a_taken_email_and_a_weak_password(monkeypatch, user):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", user.email.upper())
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long enough passphrase")
    with pytest.raises(CommandError, match="exists already"):
        call_command("staff_create", "--noinput")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "new@example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "short")
    with pytest.raises(CommandError, match="too short"):
        call_command("staff_create", "--noinput")
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_make_models_without_a_file_says_how_to_name_one(fresh_env):
    result = subprocess.run("make models", shell=True, cwd=ROOT, env=fresh_env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "make models FILE=" in result.stderr
