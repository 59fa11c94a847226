# Tollgate: `make run` serves the site, `make test` runs every test. Nothing else to install by hand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
# What `install` makes; the README test sets it empty: pytest runs in the venv `make test` just installed.
VENV_READY ?= $(VENV)/.installed

.PHONY: run test lint format bench install install-test chromium gettext messages migrate superuser models models-file clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.txt
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

install: $(VENV_READY)

install-test: $(VENV)/.installed-test chromium gettext

# Installs Debian package $(2) unless the test $(1) passes. Two runs at once take turns (flock), and the
# second finds the package the first installed; apt waits for a dpkg lock someone else holds, not fails.
define apt_install
	@if ! { $(1); }; then \
		flock $${TMPDIR:-/tmp}/tollgate-apt-$$(id -u).lock sh -c '$(1) || { \
			SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
			$$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
			DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq $(2); }'; \
	fi
endef

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
chromium:
	$(call apt_install,[ -x /usr/bin/chromium ],chromium)

# GNU gettext: the tests check every string marked for translation is in locale/th, and `make messages` uses it.
gettext:
	$(call apt_install,command -v xgettext >/dev/null && command -v msgfmt >/dev/null,gettext)

# After marking new strings: refresh locale/th's .po files, translate what is new, then run this again to compile.
messages: install gettext
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l th -d django -i ".venv/*" -i "bench/*" -i "staticfiles/*" -i "*/tests/*" --add-location file
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l th -d djangojs -i ".venv/*" -i "bench/*" -i "staticfiles/*" --add-location file
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages -l th --ignore ".venv/*"

migrate: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput

# A staff user who signs in by email; asks, or reads DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD.
superuser: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py staff_create

# The model catalogue from a JSON file: make models FILE=docs/catalogue.example.json (ARGS=--dry-run to preview).
models: models-file migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py load_models $(FILE) $(ARGS)

models-file:
	@if [ -z "$(FILE)" ]; then echo "Say which file: make models FILE=path/to/catalogue.json" >&2; exit 2; fi

# daphne's -b/-p listen with Twisted's backlog of 50: a burst of new connections (1,000 a second in
# bench/streams.py) overflows it, and clients whose connection the kernel dropped see resets.
DAPHNE_ENDPOINT = tcp:port=$(PORT):interface=$(subst :,\:,$(subst [,,$(subst ],,$(HOST)))):backlog=2048

run: migrate
	@echo "Tollgate: http://$(HOST):$(PORT)/  (stop with Ctrl+C; $$(DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(PY) manage.py model_source))"
	DJANGO_DEBUG=$${DJANGO_DEBUG:-1} $(VENV)/bin/daphne -e '$(DAPHNE_ENDPOINT)' portal.asgi:application

# Two workers: much of the suite waits on servers it started, so two processes on two cores take about
# 4 minutes on a quiet machine, 7 with a second run beside them (one worker alone took nearly twice as
# long). Work stealing keeps both busy to the end (the long multi-process tests otherwise pile up on one).
TEST_WORKERS ?= 2

test: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal

lint: install-test
	$(VENV)/bin/ruff check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

$(VENV)/.installed-bench: $(VENV)/.installed-test requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(VENV)/.installed-bench
	$(PY) bench/gateway.py

clean:
	rm -rf $(VENV) .pytest_cache .test-db.sqlite3* staticfiles .artifacts
