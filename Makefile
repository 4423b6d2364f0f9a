# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/hotline db upgrade
	$(BIN)/hotline demo load --if-empty
	$(BIN)/hotline serve --host 127.0.0.1 --port 5000

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m pytest tests/bench -p no:cacheprovider -q -s -o addopts="--import-mode=importlib" --timeout=0

lint: install
	$(BIN)/ruff check dispatch grid integrations web workers tests

clean:
	rm -rf $(VENV) instance
