# The two commands of the README. Both install uv (through pip when missing) and the locked dependencies.
PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON := $(PYTHON)

.PHONY: run test lint bench setup clean-data

## Install uv through pip when missing, then the locked dependencies into .venv.
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

## Build the demo region end to end (or reuse it) and serve the API on 127.0.0.1:8000.
run: setup
	.venv/bin/xinyi demo $(ARGS)

## The whole test suite, on SQLite and PostgreSQL (XINYI_TEST_POSTGRES_DSN), then ruff and mypy.
test: setup
	.venv/bin/pytest $(ARGS)
	.venv/bin/ruff check .
	.venv/bin/mypy

lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

## Model quality against the oracle of the demo region (needs `make run` or `xinyi demo --no-serve` first), then
## ingest throughput and peak memory on BENCH_ROWS tax rows (a quick 1 million by default; the [data-sources]
## targets are stated at BENCH_ROWS=10000000). Fails when a throughput target is missed. The profile build runs
## before it on BENCH_ENTERPRISES enterprises (a quick 100,000; the [profiles] targets are stated at 1000000).
BENCH_ROWS ?= 1000000
BENCH_ENTERPRISES ?= 100000
bench: setup
	.venv/bin/python bench/oracle_auc.py
	.venv/bin/python bench/profile_build.py --enterprises $(BENCH_ENTERPRISES)
	.venv/bin/python bench/ingest_throughput.py --rows $(BENCH_ROWS)
	.venv/bin/python bench/api_load.py

clean-data:
	rm -rf data
