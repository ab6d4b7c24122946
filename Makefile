# Refund Desk — the two commands a new user needs:
#   make run    set up and start the app on the embedded SQLite database (demo data on first run)
#   make test   set up and run every test (ruff, unit, database on SQLite [+ PostgreSQL], AppTest, browser)
# and for a quick loop while changing code:
#   make test-fast   the policy, desk and data tests on SQLite only (under a minute)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# Tests also run on PostgreSQL when this is set, e.g.
#   TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make test
export TEST_DATABASE_URL

.PHONY: run test test-fast setup setup-dev browser lint demo-large clean pg-roles nginx team

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

# The outbox worker (replies by SMTP, billing webhooks) runs in the background beside the app and stops with it.
run: setup
	$(PY) -m data.bootstrap
	$(PY) -m desk.outbox & WORKER=$$!; trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	  $(PY) -m streamlit run app.py --server.port $(PORT)

# Debian's chromium for the browser tests (Playwright drives it; a browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@chromium --version

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# pytest-xdist workers for every test, browser tests included (2 is right for 2 cores). A browser test spends
# part of its time waiting on its Streamlit server and Chromium; the other worker's tests use that time. One
# run of both kinds on a quiet 2-core machine took 466 s against 537 s for the two kinds one after the other.
TEST_WORKERS ?= 2

test: setup-dev browser nginx lint
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: setup-dev
	TEST_DATABASE_URL= $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup -q -rfE tests/policy tests/desk tests/data

# A large demo database for benchmarks: make demo-large CASES=1000000
CASES ?= 1000000
demo-large: setup
	$(PY) -m data.generate --cases $(CASES) --request-rate 0.1 --db sqlite:///data/large.db

# PostgreSQL owner + app roles for a team deployment (docs/deployment.md); re-run after every migration:
#   make pg-roles ADMIN_URL=postgresql+psycopg://postgres@db-host:5432/refund_desk
pg-roles: setup
	$(PY) -m data.pg_roles --admin-url "$(ADMIN_URL)"

# Debian's nginx for deploy/ (the reverse proxy in front of several app servers).
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx-light >/dev/null; }
	@PATH="$$PATH:/usr/sbin" nginx -v

# nginx + two app servers on one PostgreSQL (docs/deployment.md):
#   make team DB=postgresql+psycopg://refund_desk_app@db-host/refund_desk SECRETS=path/to/secrets.toml
PROXY_PORT ?= 8080
team: setup nginx
	$(PY) deploy/serve.py --db "$(DB)" --secrets "$(SECRETS)" --port $(PROXY_PORT)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
