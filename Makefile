# The two commands of the README: `make demo` and `make test`. Each bootstraps .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench-smoke clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "costbot needs Python 3.11 or newer (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

demo: $(BIN)/.installed
	$(BIN)/costbot demo

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# Tiny runs that prove every benchmark still works (about a minute each at most; the figures come
# from the full runs, see the docs).
bench-smoke: $(BIN)/.installed
	@for script in bench/*.py; do echo "== $$script --smoke"; $(BIN)/python $$script --smoke || exit 1; done

lint: $(BIN)/.installed
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache costbot.db
