# Two commands do all the set-up on a fresh machine:
#   make run    - the application with demo data on SQLite, at http://127.0.0.1:5000/
#   make test   - the whole test suite, on SQLite and (where it answers) PostgreSQL
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
FLASK := $(BIN)/flask --app app
PG_SERVER ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
PG_PROBE := import psycopg; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=postgres', connect_timeout=3).close()

# System packages, installed through apt when run as root (CI, fresh machines):
# a CJK font so the PDF report shows Chinese; Debian's chromium for the browser tests;
# PostgreSQL's client tools (pg_dump, pg_restore, psql) for `flask backup`, when absent.
RUN_PACKAGES := fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0
PG_CLIENT := $(if $(shell command -v pg_dump 2>/dev/null),,postgresql-client)
TEST_PACKAGES := $(RUN_PACKAGES) chromium $(PG_CLIENT)

define system_packages
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q $$missing >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $$missing >/dev/null 2>&1; } || \
	    echo "could not install:$$missing"; \
	else \
	  echo "not root, cannot install:$$missing (apt-get install$$missing)"; \
	fi
endef

.PHONY: run test install system-run system-test bench load

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

system-run:
	$(call system_packages,$(RUN_PACKAGES))

system-test:
	$(call system_packages,$(TEST_PACKAGES))

run: $(STAMP) system-run
	$(FLASK) db upgrade
	$(FLASK) seed demo
	$(FLASK) run --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

# Tests run on every core (pytest-xdist): each worker builds its own database and demo;
# a test file stays on one worker (its module fixtures are built once). TEST_WORKERS=0
# runs in this process (a debugger, -x, print statements).
TEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

test: $(STAMP) system-test
	@echo "== SQLite =="
	$(PYTEST)
	@if $(BIN)/python -c "$(PG_PROBE)" 2>/dev/null; then \
	  echo "== PostgreSQL (a fresh database, created and dropped by the run) =="; \
	  TEST_DATABASE_URL=$(PG_SERVER) $(PYTEST); \
	elif [ "$$CI" = "true" ]; then \
	  echo "CI: PostgreSQL must answer at 127.0.0.1:5432"; exit 1; \
	else \
	  echo "PostgreSQL does not answer at 127.0.0.1:5432: ran on SQLite only"; \
	fi

# The benchmark (bench/run.py): builds a city once (13,000 estates, 2,000,000 tickets,
# 1,000,000 complaints) and compares the product with plain Flask-Admin and raw SQL.
#   make bench             on SQLite (bench/out/bench.db)
#   make bench DB=postgresql
DB ?= sqlite
bench: $(STAMP)
	$(BIN)/python -m bench.run --db $(DB)

# The load script (bench/load.py): a fresh PostgreSQL database on 127.0.0.1:5432 with the
# demo, gunicorn on a loopback port, 40 users for 60 s; checks no 5xx and no lost update.
#   make load                          make load LOAD_ARGS="--users 60 --duration 120"
LOAD_ARGS ?=
load: $(STAMP)
	$(BIN)/python -m bench.load $(LOAD_ARGS)
