# Two commands: `make demo` (set up + release the demo) and `make test` (set up + test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/synthdb demo release

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check synthdb tests bench
	$(BIN)/ruff format --check synthdb tests bench

bench: setup
	bash bench/run.sh

clean:
	-$(BIN)/synthdb db stop
	rm -rf $(VENV) .synthdb target logs
