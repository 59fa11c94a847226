"""Loaded by pytest before Django: test-only defaults for settings that production must set."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("KEYS_BACKEND", "local")
# The loopback LLM the tests run is a private address; tests of the refusal turn this off themselves.
os.environ["UPSTREAM_ALLOW_PRIVATE"] = "1"
for name in ("REDIS_URL", "DATABASE_URL", "LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "DJANGO_DEBUG"):
    # The suite sets these itself where a test needs them; an operator's shell must not leak in.
    os.environ.pop(name, None)

# The test process spools to a folder of its own: it must never replay the live servers' spools into
# the test database (they share theirs, as production processes do; conftest's LiveServer drops this).
os.environ["TOLLGATE_SPOOL_DIR"] = tempfile.mkdtemp(prefix="tollgate-test-spool-")
atexit.register(shutil.rmtree, os.environ["TOLLGATE_SPOOL_DIR"], True)
