# Two entry points for a fresh machine: `make demo` and `make test` (what .ci/run calls).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test unit integration lint schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# promtool (for `promtool test rules` in the suite) is not on PyPI: unpacked from Debian's
# prometheus package into the venv, no server installed (deploy/tools/install-promtool.sh).
$(BIN)/promtool: deploy/tools/install-promtool.sh | $(STAMP)
	deploy/tools/install-promtool.sh $(BIN)

## demo: embedded broker + worker + sample data, live decisions (Ctrl-C stops everything)
demo: $(STAMP)
	$(BIN)/personalizer demo

## test: the whole suite (unit, doctests, integration on an embedded broker) + lint
test: $(STAMP) $(BIN)/promtool
	$(BIN)/ruff check schemas models streams tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

unit: $(STAMP) $(BIN)/promtool
	$(BIN)/pytest -q -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -q -m integration

lint: $(STAMP)
	$(BIN)/ruff check schemas models streams tests benchmarks
	$(BIN)/mypy

## schemas: regenerate schemas/json from the msgspec structs
schemas: $(STAMP)
	$(BIN)/python -m schemas.jsonschema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench bench-compare bench-venv

# Quix Streams (the bench peer) pins confluent-kafka<2.13, older than the project's: it gets
# its own venv, so the project's packages are never downgraded.
var/bench-venv/.installed:
	($(PYTHON) -m venv var/bench-venv && var/bench-venv/bin/pip install --quiet quixstreams orjson \
	  && touch $@) || echo "Quix Streams could not be installed: personalizer bench skips that peer"

bench-venv: var/bench-venv/.installed

## bench: raw limit, Faust and Quix peers, worker, replay, latency, restore (table + var/bench/latest.json)
bench: $(STAMP) var/bench-venv/.installed
	$(BIN)/python -m streams.commands.bench --json var/bench/latest.json

## bench-compare: a new bench run's ratios against benchmarks/baseline.json (ratios only)
bench-compare: bench
	$(BIN)/python -m benchmarks.compare var/bench/latest.json benchmarks/baseline.json
