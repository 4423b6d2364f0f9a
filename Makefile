# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Test processes for `make test` (pytest-xdist): one more than the 2 cores, so that a core is
# not idle while a worker waits on PostgreSQL, a browser or a subprocess. `make test
# TEST_WORKERS=0` runs in one process; PYTEST_ARGS adds options (`PYTEST_ARGS='-x tests/web'`).
TEST_WORKERS ?= 3
PYTEST_ARGS ?=
# The tests' files (SQLite databases, uploads, browser profiles) in memory when the machine has
# /dev/shm: there SQLite's sync at each commit costs nothing (the SQLite tests run a third
# faster); pytest keeps the files of failed tests only.
TEST_TMPDIR ?= $(if $(wildcard /dev/shm),/dev/shm,/tmp)

.PHONY: run test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# `PORT=5001 make run` serves on another port. On an empty database, five weeks of simulated
# history ending now are made first (under a minute); a database with tickets is kept as it is.
PORT ?= 5000

run: install
	$(BIN)/hotline db upgrade
	$(BIN)/hotline demo load --if-empty
	$(BIN)/hotline classifier train --activate --if-none
	$(BIN)/hotline simulate --preset recent --until-now --if-empty
	$(BIN)/hotline serve --host 127.0.0.1 --port $(PORT)

# Tests that share a costly fixture run in one worker (--dist loadgroup, groups in
# tests/conftest.py); then the JavaScript unit tests, when there are any.
# PYTHONDONTWRITEBYTECODE is emptied for the run (some machines set it): each test process
# rewrites the assertions of some 150 test modules when it collects them (8 s of CPU a
# process) unless pytest may keep the rewritten code in __pycache__, and every `hotline`
# subprocess compiles the project again.
test: install
	PYTHONDONTWRITEBYTECODE= TMPDIR=$(TEST_TMPDIR) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=25 $(PYTEST_ARGS)
	if [ -d tests/js ]; then node --test tests/js/; fi

bench: install
	$(BIN)/python -m pytest tests/bench -p no:cacheprovider -q -s -o addopts="--import-mode=importlib" --timeout=0

# A bounded schemathesis run against /api/v1/openapi.json as operator, dispatcher and admin
# (tests/web/test_fuzz.py; about two minutes): zero 5xx and zero schema violations. On
# PostgreSQL when HOTLINE_TEST_DATABASE_URL is set, else SQLite.
.PHONY: fuzz
fuzz: install
	HOTLINE_FUZZ_EXAMPLES=5 HOTLINE_FUZZ_PHASES=examples,coverage,fuzzing HOTLINE_FUZZ_SECONDS=32 \
		$(BIN)/python -m pytest tests/web/test_fuzz.py -q -s --timeout=300

# eslint for the pages' JavaScript, at the versions pinned in package-lock.json (installed from
# the npm registry on first use).
lint: install
	$(BIN)/ruff check dispatch grid integrations web workers tests
	$(BIN)/mypy dispatch grid integrations
	test -d node_modules || npm ci --silent
	npx --no-install eslint web/static/js tests/js

clean:
	rm -rf $(VENV) instance node_modules
