# Shareline: `make run` starts the whole embedded stack, `make demo` the same with a simulated
# provider, agents and customers, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: run demo test lint bench migrate clean

# --no-compile: byte-compiling every dependency up front costs ~13 s; modules compile on first import.
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-compile -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	touch $(DEV)

run: $(RUNTIME)
	$(BIN)/python -m stack.run

demo: $(RUNTIME)
	$(BIN)/python -m demo

test: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest -q

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# `make bench`: issue 10's goals on a fresh embedded stack (writes .bench/bench.json and docs/bench.svg),
# then the list at scale. `make bench BENCH=--quick`: the first part's parts at smaller sizes, a few minutes.
bench: $(RUNTIME)
	$(BIN)/python -m stack.bench $(BENCH)
	$(BIN)/python -m stack.bench_list

migrate: $(RUNTIME)
	$(BIN)/python -m stack.migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
