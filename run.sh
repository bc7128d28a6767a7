#!/usr/bin/env bash
# Set up everything (system packages, .venv, local PostGIS, schema, district data) and serve
# gridmap on http://127.0.0.1:8000. Idempotent: run it again any time.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/gridmap up "$@"
