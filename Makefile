# roletrail: `make run` serves the API with demo data on the embedded store; `make test` runs the suite.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint types bench browser redis clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/roletrail serve --demo-if-empty

redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no

browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"

test: $(STAMP) redis browser
	$(BIN)/python -m pytest -q --durations=10

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

check: lint types test

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.reads
	$(BIN)/python -m bench.guardduty
	$(BIN)/python -m bench.s3
	$(BIN)/python -m bench.storage
	$(BIN)/python -m bench.flowlogs
	$(BIN)/python -m bench.deviations

clean:
	rm -rf $(VENV) .roletrail
