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
	$(BIN)/ruff check schemas models streams tests
	$(BIN)/pytest -q

unit: $(STAMP) $(BIN)/promtool
	$(BIN)/pytest -q -m "not integration"

integration: $(STAMP)
	$(BIN)/pytest -q -m integration

lint: $(STAMP)
	$(BIN)/ruff check schemas models streams tests
	$(BIN)/mypy

## schemas: regenerate schemas/json from the msgspec structs
schemas: $(STAMP)
	$(BIN)/python -m schemas.jsonschema

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
