# Two entry points for a fresh machine (see README): `make serve` and `make test`.
# uv is installed with pip where missing; the lock file pins every dependency.
SHELL := /bin/bash
# `python3 -m uv` works wherever pip put uv, on PATH or not.
UV ?= $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PY_TARGETS := libs/core/scd_core libs/engine/scd_engine libs/trigger_spec/scd_trigger_spec functions

.PHONY: setup serve test lint typecheck pytest bench screenshots

setup:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --locked --quiet

serve: setup
	$(UV) run --locked scd serve

lint: setup
	$(UV) run --locked ruff check .

typecheck: setup
	$(UV) run --locked mypy

pytest: setup
	$(UV) run --locked pytest

test: setup
	$(UV) run --locked ruff check .
	$(UV) run --locked mypy
	$(UV) run --locked pytest

bench: setup
	@# *_app.py files are servers a benchmark starts, not benchmarks
	@for b in $(filter-out %_app.py,$(wildcard bench/*.py)); do echo "== $$b"; $(UV) run --locked python $$b || exit 1; done

# The dashboard screenshots of the README (docs/screenshots), taken by the browser test.
screenshots: setup
	SCD_SCREENSHOTS=$(CURDIR)/docs/screenshots $(UV) run --locked pytest -q tests/e2e/test_dashboard_pages.py -k overflow
