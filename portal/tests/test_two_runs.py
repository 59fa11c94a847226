"""Two test runs at once on one machine keep to what each made: neither fails the other, and neither
touches a bystander's data in the Redis they share."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.services
ROOT = Path(__file__).resolve().parents[2]
# Tests that claim a database of the shared Redis, and make a SQLite database of their own (a run's
# PostgreSQL databases have random names: tollgate_test_<hex>).
SELECTION = ["keys/tests/test_quota_stores.py", "-k", "Redis or redis"]


def test_two_runs_at_once_pass_and_leave_a_bystanders_keys_alone(redis_server):
    bystander = redis.Redis.from_url(redis_server.url + "/0")
    bystander.set("someone-elses:data", "keep me")
    env = {**os.environ, "TEST_REDIS_URL": redis_server.url + "/0", "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", *SELECTION]
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output[-3000:]
        assert "skipped" not in output.splitlines()[-1], output[-1500:]  # they really used the services
    assert bystander.get("someone-elses:data") == b"keep me"
    # Each run claimed a database of its own and released it: nothing of theirs is left.
    for number in range(1, 16):
        assert redis.Redis.from_url(f"{redis_server.url}/{number}").dbsize() == 0, number
