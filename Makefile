# The two commands of the README. Both install uv (through pip when missing) and the locked dependencies.
PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON := $(PYTHON)

.PHONY: run test lint bench bench-quick setup clean-data

## Install uv through pip when missing, then the locked dependencies into .venv, compiled to bytecode once (where
## PYTHONDONTWRITEBYTECODE is set, as on these machines, every process would otherwise compile pandas and the
## rest from source again: about 1.5 s of start-up each, for every CLI call, API worker and bench child).
setup:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet --compile-bytecode

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

## Every bench in bench/ at the sizes the targets are stated at (hours on the 2-core machine; the model-quality
## bench needs `make run` or `xinyi demo --no-serve` first); writes docs/benchmarks.md with each figure, its
## target, met or not, the machine, the date and load of each bench (bench/report.py; the outcomes are kept in
## docs/benchmarks.json: `ARGS="--only ingest_throughput"` re-runs one and keeps the others).
bench: setup
	.venv/bin/python bench/report.py --size full $(ARGS)

## The same at a small size for a quick look (minutes); the page says so in its heading.
bench-quick: setup
	.venv/bin/python bench/report.py --size quick $(ARGS)

clean-data:
	rm -rf data
