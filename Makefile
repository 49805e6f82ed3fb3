# The two commands: `make run` (the whole stack on its defaults) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test install client lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The browser client: pinned npm packages (package-lock.json), bundled into web/static/dist/.
NODE_STAMP := node_modules/.installed-stamp
CLIENT_SOURCES := $(shell find web/client -type f 2>/dev/null) web/static/index.html

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

web/static/dist/app.js: $(NODE_STAMP) $(CLIENT_SOURCES)
	npm run --silent build

client: web/static/dist/app.js

install: $(STAMP) client

## Start web, worker, beat and Flower (and nx-27017 / redis-server when needed). Ctrl-C stops all.
run: install
	mkdir -p var
	$(BIN)/python scripts/run_stack.py

## Run the whole test suite against real Redis, nx-27017 and worker processes. First makes sure
## Redis answers and Debian's chromium is there (apt-get installs what is missing when root).
## pytest runs in two processes, each test folder whole in one of them (tests/README.md).
test: install
	bash scripts/test_prereqs.sh
	$(BIN)/ruff check .
	npm run --silent lint
	npm test --silent
	$(BIN)/pytest -q -n 2 --dist loadgroup

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	npm run --silent lint

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python bench/stream.py
	$(BIN)/python -m bench.openai
	$(BIN)/python bench/analytics.py

clean:
	rm -rf $(VENV) var/*.db var/test-logs node_modules web/static/dist
