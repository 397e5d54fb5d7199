# Every target builds its own virtual environment from the pinned lock file.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-pg15 lint schema bench bench-full clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	KEZEK_PROFILE=development $(BIN)/kezek serve --demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/pytest

# Same suite on Debian's PostgreSQL 15, started as an unprivileged user.
test-pg15: $(STAMP)
	$(BIN)/python -m tests.pg15 $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

schema: $(STAMP)
	$(BIN)/kezek export-schema > schema.graphql

clean:
	rm -rf $(VENV) .kezek .pytest_cache .mypy_cache

# QUALITY §3 benchmarks (bench/): a reduced data set in minutes, and the national one.
bench: $(STAMP)
	$(BIN)/python -m bench.run --scale reduced

bench-full: $(STAMP)
	$(BIN)/python -m bench.run --scale full
