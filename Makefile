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
	$(BIN)/ruff check schemas models streams tests benchmarks setup.py
	$(BIN)/mypy
	$(BIN)/pytest -q

unit: $(STAMP) $(BIN)/promtool
	$(BIN)/pytest -q -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -q -m integration

lint: $(STAMP)
	$(BIN)/ruff check schemas models streams tests benchmarks setup.py
	$(BIN)/mypy

## schemas: regenerate schemas/json from the msgspec structs
schemas: $(STAMP)
	$(BIN)/python -m schemas.jsonschema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

.PHONY: bench bench-compare bench-venv bench-compiled bench-compare-compiled

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

# The compiled core (what the Dockerfile ships): the wheel built with PERSONALIZER_COMPILE=1
# (setup.py: mypyc, gcc), installed into var/compiled; only its models/ (the compiled part)
# is kept there, ahead of the work tree on sys.path (streams/ and benchmarks/ from the tree).
var/compiled/.installed: pyproject.toml setup.py $(shell find models -name '*.py') | $(STAMP)
	rm -rf var/compiled var/compiled-wheel
	PERSONALIZER_COMPILE=1 $(BIN)/pip wheel --quiet --no-deps -w var/compiled-wheel .
	$(BIN)/pip install --quiet --no-deps --target var/compiled var/compiled-wheel/personalizer-*.whl
	rm -rf build var/compiled/streams var/compiled/schemas var/compiled/bin
	touch $@

## bench-compiled: the same bench with the compiled core (var/bench/compiled.json)
bench-compiled: var/compiled/.installed var/bench-venv/.installed
	mkdir -p var/bench
	cd var/compiled && PYTHONPATH=$(CURDIR)/var/compiled:$(CURDIR) $(CURDIR)/$(BIN)/python \
	  -m streams.commands.bench --json $(CURDIR)/var/bench/compiled.json

## bench-compare-compiled: the compiled bench's ratios against benchmarks/baseline-compiled.json
bench-compare-compiled: bench-compiled
	$(BIN)/python -m benchmarks.compare var/bench/compiled.json benchmarks/baseline-compiled.json
