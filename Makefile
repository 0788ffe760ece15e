# Two commands for a fresh machine: `make run` runs the bot, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

run: $(STAMP) .env webcare.yml
	$(BIN)/webcare serve

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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
