# The two commands the README opens with: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lint bench soak clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	$(BIN)/outbound validate
	$(BIN)/outbound demo

test: venv
	bash scripts/test-deps.sh
	$(BIN)/ruff check outbound tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q -p no:cacheprovider -n 2

lint: venv
	$(BIN)/ruff check outbound tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

bench: venv
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench

soak: venv
	$(BIN)/python -m pytest -q -p no:cacheprovider -m soak tests/reliability/test_soak.py
	$(BIN)/python -m tests.reliability.soak --full

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
