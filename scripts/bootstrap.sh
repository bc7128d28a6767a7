#!/usr/bin/env bash
# Install everything gridmap needs, idempotently: system packages (PostgreSQL + PostGIS, GDAL),
# the virtualenv in .venv and the Python dependencies. `--dev` adds what the tests need.
# Re-running it when everything is there takes about a second and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
[[ "${1:-}" == "--dev" ]] && DEV=1

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
    else
        echo "gridmap needs system packages; please run as root or with sudo:" >&2
        echo "  sudo $*" >&2
        exit 1
    fi
}

pg_major() {
    # Newest PostgreSQL server already installed, else the distribution's default major.
    local installed
    installed=$(ls /usr/lib/postgresql 2>/dev/null | grep -E '^[0-9]+$' | sort -n | tail -1 || true)
    if [[ -n "$installed" ]]; then echo "$installed"; return; fi
    apt-cache policy postgresql 2>/dev/null | awk '/Candidate:/ {split($2, v, "+"); print v[1]}'
}

missing=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
want() { have "$1" || missing+=("$1"); }

if ! command -v apt-get >/dev/null; then
    echo "no apt-get: install PostgreSQL with PostGIS 3, GDAL and python3-venv yourself" >&2
else
    major=$(pg_major)
    if [[ -z "$major" ]]; then
        as_root apt-get update -q
        major=$(pg_major)
    fi
    want "postgresql-$major"
    want "postgresql-$major-postgis-3"
    want "postgresql-$major-postgis-3-scripts"
    want gdal-bin
    want python3-venv
    if [[ $DEV -eq 1 ]]; then
        want chromium   # browser tests (Playwright drives Debian's build; nothing is downloaded)
        want wrk        # HTTP load benchmark in bench/
        want fonts-noto-cjk  # Chinese text in browser screenshots
    fi
    if [[ ${#missing[@]} -gt 0 ]]; then
        echo "installing system packages: ${missing[*]}"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            "${missing[@]}"
    fi
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$PY" -m venv .venv
fi
extras=""
[[ $DEV -eq 1 ]] && extras="[dev]"
stamp=".venv/.gridmap-installed"
# the pinned versions of every package, transitive ones too (constraints.txt)
want_stamp="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)$extras"
if [[ ! -f "$stamp" ]] || ! grep -qxF -- "$want_stamp" "$stamp"; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt -e ".$extras"
    echo "$want_stamp" >> "$stamp"
fi
