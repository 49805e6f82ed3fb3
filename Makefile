# The two commands: `make run` (the whole stack on its defaults) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start web, worker, beat and Flower (and nx-27017 / redis-server when needed). Ctrl-C stops all.
run: install
	mkdir -p var
	$(BIN)/python scripts/run_stack.py

## Run the whole test suite against real Redis, nx-27017 and worker processes. First makes sure
## Redis answers and Debian's chromium is there (apt-get installs what is missing when root).
test: install
	bash scripts/test_prereqs.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/stream.py
	$(BIN)/python -m bench.openai
	$(BIN)/python bench/analytics.py

clean:
	rm -rf $(VENV) var/*.db var/test-logs
