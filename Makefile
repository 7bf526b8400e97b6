# Two entry points, both doing all set-up from a fresh clone (see README):
#   make run    the main job on the embedded default spec
#   make test   the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SPEC   ?= spaces/quickstart.yaml
PYTEST_ARGS ?=
# pytest workers: one per core of a 2-core machine. Each test file runs whole on one worker (--dist loadfile), so
# a module's expensive fixture (a toy study, a Ray cluster) is built once, as in a serial run.
TEST_JOBS ?= 2

.PHONY: setup bytecode data test-deps lint run test clean

# The stamp is rebuilt when pyproject.toml changes. torch is installed first, pinned, so that pip takes the
# local CPU build rather than resolving a CUDA one. torchvision 0.29.1 is a test-only reference: its metadata
# asks for torch>=2.14, so it goes in with --no-deps (tests load only its pure-Python model builders).
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps torchvision==0.29.1
	touch $@

setup: $(VENV)/.installed

# Where PYTHONDONTWRITEBYTECODE is set (as on this project's machines), Python keeps no compiled modules, and every
# process a search starts (its driver, each trial worker; the tests start hundreds) compiles scalesearch again.
# compileall writes them whatever that variable says, and skips the modules already compiled.
bytecode: setup
	$(BIN)/python -m compileall -q scalesearch

data:
	@bash scripts/install-data

# PostgreSQL and Chromium for the tests that start a database server or open the HTML report (skipped without).
test-deps:
	@bash scripts/install-test-deps

run: setup bytecode data
	$(BIN)/scalesearch run $(SPEC)

# ruff first (its settings are in pyproject.toml): a lint error fails the tests before they start.
lint: setup
	$(BIN)/ruff check scalesearch tests benchmarks scripts

test: setup bytecode data test-deps lint
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
