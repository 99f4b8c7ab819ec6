# Two commands: `make demo` (set up + release the demo) and `make test` (set up + test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup demo test lint bench clean chromium

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The demo is its own dbt project (examples/demo) that uses the repository root as the dbt
# package `synthdb`; its embedded PostgreSQL lives in examples/demo/.synthdb.
DEMO := examples/demo

demo: setup
	$(BIN)/synthdb demo release --project-dir $(DEMO)

test: setup chromium
	$(BIN)/python -m pytest

# The QA report test renders the report in headless Chromium (Debian package).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "make test needs Debian's chromium (sudo apt-get install chromium)" >&2; exit 1; fi; }

lint: setup
	$(BIN)/ruff check synthdb tests bench

bench: setup
	bash bench/run.sh

clean:
	-cd $(DEMO) && ../../$(BIN)/synthdb db stop
	-$(BIN)/synthdb db stop
	rm -rf $(VENV) .synthdb target logs $(DEMO)/.synthdb $(DEMO)/target $(DEMO)/logs $(DEMO)/dbt_packages
