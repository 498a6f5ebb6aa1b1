# doser: the two front-door commands are `make run` and `make test` (see README.md).
# Every target installs what it needs on a fresh clone (.venv, packages).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest

.PHONY: setup browser run test lint unit integration acceptance e2e bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	bash scripts/ensure-debian.sh /usr/sbin/mosquitto mosquitto mosquitto-clients

# The dashboard's end-to-end tests drive Debian's Chromium through Playwright.
browser: $(STAMP)
	bash scripts/ensure-debian.sh /usr/bin/chromium chromium fonts-dejavu-core

run: $(STAMP)
	bash scripts/run-dev.sh $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(PYTEST) tests/unit -q

integration: setup
	$(PYTEST) tests/integration -q

acceptance: setup
	$(PYTEST) tests/acceptance -q

e2e: setup browser
	$(PYTEST) tests/e2e -q

# What CI runs: lint and every test level (benchmarks excluded: they print figures).
# The integration and acceptance levels talk to a real mosquitto (setup installs it); the
# e2e level drives the dashboard in Debian's Chromium (browser installs it).
test: setup browser lint
	$(PYTEST) tests/unit tests/integration tests/acceptance tests/e2e -q

bench: $(STAMP)
	$(PYTEST) tests/bench -q -s

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache var
