# Branchpoint developer entry points. Every target that runs project code first calls
# scripts/bootstrap.sh, which is idempotent and quick when nothing has changed.

BIN := .venv/bin
BOOTSTRAP := scripts/bootstrap.sh

.DEFAULT_GOAL := help
.PHONY: help demo test lint bench fuzz clean

help:
	@echo "Targets:"
	@echo "  demo   set up .venv, then show the library, its coverage report and a scripted"
	@echo "         run on the projector (offscreen without a display), in the demo's own record"
	@echo "  test   set up .venv with dev extras, then lint, type-check and run the full test suite"
	@echo "  lint   ruff, import contracts and mypy only"
	@echo "  bench  run the benchmarks (python -m bench)"
	@echo "  fuzz   long property-based fuzzing run, and sixty kill -9s of a headless run"
	@echo "  clean  remove .venv and tool caches"

demo:
	$(BOOTSTRAP)
	$(BIN)/branchpoint demo

test:
	$(BOOTSTRAP) --dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto --dist loadfile

lint:
	$(BOOTSTRAP) --dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench:
	$(BOOTSTRAP) --dev
	$(BIN)/python -m bench

fuzz:
	$(BOOTSTRAP) --dev
	$(BIN)/python -m pytest tests -m fuzz --hypothesis-profile=long --timeout=3600 \
	  --hypothesis-show-statistics
	BRANCHPOINT_CRASH_KILLS=60 $(BIN)/python -m pytest tests/test_crash_recovery.py --timeout=3600

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache build dist
	find . -path ./.git -prune -o \( -name __pycache__ -o -name "*.egg-info" \) -type d -prune -exec rm -rf {} +
