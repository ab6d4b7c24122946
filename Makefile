# Refund Desk — the two commands a new user needs:
#   make run    set up and start the app on the embedded SQLite database (demo data on first run)
#   make test   set up and run every test (ruff, unit, database on SQLite [+ PostgreSQL], AppTest, browser)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
# Tests also run on PostgreSQL when this is set, e.g.
#   TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test make test
export TEST_DATABASE_URL

.PHONY: run test setup setup-dev browser lint demo-large clean

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

test: setup-dev browser lint
	$(PY) -m pytest

# A large demo database for benchmarks: make demo-large CASES=1000000
CASES ?= 1000000
demo-large: setup
	$(PY) -m data.generate --cases $(CASES) --request-rate 0.1 --db sqlite:///data/large.db

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
