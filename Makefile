# Every target builds its own virtual environment from the pinned, hash-checked lock files:
# requirements.lock (runtime) and requirements-dev.lock (runtime + development tools), both made by `make lock`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
LOCKS := requirements.lock requirements-dev.lock

.PHONY: run demo-reset test test-pg15 lint schema bench bench-full clean lock

# The project itself goes in editable and without dependencies: the lock brought them all, hash-checked, and
# its setuptools builds it (no build isolation, so nothing unpinned is fetched).
$(STAMP): $(LOCKS) pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	KEZEK_PROFILE=development $(BIN)/kezek serve --demo

# The demo from scratch: drops the demo database under .kezek/ and seeds it again (refused while `make run` runs).
demo-reset: $(STAMP)
	KEZEK_PROFILE=development $(BIN)/kezek seed --demo --reset

# pytest exits 5 when it collected no test: that is a failure here, and says so.
NO_TESTS = rc=$$?; if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests" >&2; fi; exit $$rc

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .
	$(BIN)/pytest; $(NO_TESTS)

# Same suite on Debian's PostgreSQL 15, started as an unprivileged user.
test-pg15: $(STAMP)
	$(BIN)/python -m tests.pg15 $(BIN)/pytest; $(NO_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy .

schema: $(STAMP)
	$(BIN)/kezek export-schema > schema.graphql

clean:
	rm -rf $(VENV) .kezek .pytest_cache .mypy_cache

# Regenerates both lock files from pyproject.toml for CPython 3.11 on Linux x86_64, with every file's hash.
# Pins already in the locks are kept where pyproject.toml still allows them; to move them:
# `make lock UPGRADE=--upgrade` (everything) or `make lock UPGRADE='--upgrade-package NAME'`.
# The development lock is constrained by the runtime one, so the two always agree.
UPGRADE ?=
COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --no-header \
	--python-version 3.11 --python-platform x86_64-unknown-linux-gnu $(UPGRADE)
define lock_header
{ printf '%s\n' '# $(2)' \
	'# Every package pinned with the hashes of its files, for CPython 3.11 on Linux x86_64.' \
	'# Install: pip install --require-hashes -r $(1), then the project itself with --no-deps.' \
	'# Regenerate: make lock (uv pip compile --generate-hashes from pyproject.toml; see the Makefile).' \
	&& cat $(1); } > $(1).tmp && mv $(1).tmp $(1)
endef

lock: $(STAMP)
	$(COMPILE) -o requirements.lock
	$(COMPILE) --extra dev -c requirements.lock -o requirements-dev.lock
	$(call lock_header,requirements.lock,Runtime dependencies of kezek: what `pip install .` needs and nothing else.)
	$(call lock_header,requirements-dev.lock,Runtime and development dependencies (the dev extra); runtime pins as in requirements.lock.)
	touch $(STAMP)

# docs/quality.md §3 benchmarks (bench/): a reduced data set in minutes, and the national one.
bench: $(STAMP)
	$(BIN)/python -m bench.run --scale reduced

bench-full: $(STAMP)
	$(BIN)/python -m bench.run --scale full
