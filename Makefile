# Two commands for a fresh machine: `make run` runs the bot, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-clocks lint bench clean

run: $(STAMP) .env webcare.yml
	$(BIN)/webcare serve

test: $(STAMP)
	$(BIN)/python -m pytest

# The suite again (SQLite) with the process's system clock moved: a weekend a year ahead, across
# the spring DST change, and before the fixtures' dates. A test that reads the real date fails.
MOVED_CLOCKS := 2027-12-04T11:00:00+01:00 2027-03-28T01:59:00+01:00 2026-11-20T09:30:00+01:00

test-clocks: $(STAMP)
	@for at in $(MOVED_CLOCKS); do \
		echo "== the suite with the system clock at $$at"; \
		WEBCARE_TEST_DATABASE_URL= WEBCARE_TEST_MOVE_CLOCK=$$at $(BIN)/python -m pytest -q || exit 1; \
	done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.ack
	$(BIN)/python -m bench.delivery

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.12 or install it")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

.env:
	cp .env.example .env
	@echo "Created .env from .env.example: fill in the Slack tokens (see README, Quickstart)."

webcare.yml:
	cp webcare.example.yml webcare.yml
	@echo "Created webcare.yml from webcare.example.yml: put your departments' channel IDs in it."

clean:
	rm -rf $(VENV) *.egg-info
