#!/usr/bin/env bash
# Install what the tests need, lint, and run the whole suite against a throwaway PostGIS
# cluster that the test session starts and removes. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh --dev
.venv/bin/ruff check .
.venv/bin/python scripts/mypy_baseline.py  # types: errors may only shrink (mypy-baseline.txt)
# pytest exits 5 when it collects no tests; with `set -e` that fails the run, as it should.
exec .venv/bin/python -m pytest "$@"
