#!/usr/bin/env bash
# Install what the tests need, lint, and run the whole suite against throwaway PostGIS clusters
# that the test session starts and removes (one per worker). Idempotent.
#
# Two worker processes (pytest-xdist, a module's tests stay on one worker so its fixtures are
# built once); the ten slowest tests are listed at the end. Arguments go to pytest, e.g.
#   ./test.sh tests/test_cases.py          ./test.sh -m "not browser and not slow"
#   ./test.sh -n 0                         (one process: pdb, -x and ordered output work best)
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh --dev
# our own modules' bytecode, written once: with PYTHONDONTWRITEBYTECODE set (as on CI machines)
# every test process and every server a test starts would otherwise compile them again
.venv/bin/python -m compileall -q -j 2 gis layers api map_ui gridmap bench scripts >/dev/null
# the compiled kernels into their cache on the other core while ruff and mypy run (in a fresh
# clone each test worker would otherwise compile them itself, ~20 s each)
.venv/bin/python scripts/warm_kernels.py &
warming=$!
.venv/bin/ruff check .
.venv/bin/python scripts/mypy_baseline.py  # types: gis/, layers/ clean; elsewhere errors only shrink
wait "$warming" || echo "warning: the kernels were not compiled ahead (each test process will compile them)" >&2
# pytest exits 5 when it collects no tests; with `set -e` that fails the run, as it should.
exec .venv/bin/python -m pytest -n "${GRIDMAP_TEST_WORKERS:-2}" --dist loadscope --durations=10 "$@"
