"""mypy: gis/ and layers/ clean, the rest against a recorded baseline that may only shrink (issue 25).

``python scripts/mypy_baseline.py`` runs mypy as pyproject.toml configures it (its cache in
.mypy_cache keeps a re-run to seconds). Any error in a module under :data:`CLEAN` fails (exit 1):
there the rule is clean, not a baseline. Elsewhere the errors per module are compared with
``mypy-baseline.txt``: a module with more errors than recorded — or any error in a module
recorded clean or not recorded at all — fails and lists them. Fewer errors pass and say so;
``--update`` then writes the smaller baseline (it refuses to record a growth, and never records a
clean package's module; without a baseline file it records the first one).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "mypy-baseline.txt"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error:")
CLEAN = ("gis/", "layers/")  # packages held to no error at all: never in the baseline


def run_mypy() -> tuple[Counter[str], list[str]]:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    lines = done.stdout.splitlines()
    # 2: mypy itself failed (a configuration error); 1 without an error line: mypy did not run
    # at all (not installed: "No module named mypy") — never read as "no errors"
    ran = done.returncode == 0 or any(ERROR.match(line) for line in lines)
    if done.returncode not in (0, 1) or not ran:
        sys.exit(f"mypy failed:\n{done.stdout}{done.stderr}")
    return Counter(m["path"] for line in lines if (m := ERROR.match(line))), lines


def read_baseline() -> Counter[str]:
    if not BASELINE.exists():
        return Counter()
    found: Counter[str] = Counter()
    for line in BASELINE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            count, path = line.split(maxsplit=1)
            found[path] = int(count)
    return found


def write_baseline(counts: Counter[str]) -> None:
    rows = "".join(f"{n} {path}\n" for path, n in sorted(counts.items()) if not is_clean(path))
    BASELINE.write_text("# mypy errors per module (scripts/mypy_baseline.py): may only shrink;\n"
                        f"# {' and '.join(CLEAN)} are held clean and never listed here\n"
                        + rows, encoding="utf-8")


def is_clean(path: str) -> bool:
    return path.startswith(CLEAN)


def verdict(counts: Counter[str], baseline: Counter[str]) -> dict[str, tuple[int, int]]:
    """The modules that fail, each with (errors allowed, errors found): any error under
    :data:`CLEAN` (allowed 0, whatever the baseline says), elsewhere more than recorded."""
    return {path: (0 if is_clean(path) else baseline.get(path, 0), n)
            for path, n in counts.items()
            if n > 0 and (is_clean(path) or n > baseline.get(path, 0))}


def main(argv: list[str]) -> int:
    counts, lines = run_mypy()
    first = "--update" in argv and not BASELINE.exists()
    baseline = read_baseline()
    failing = verdict(counts, baseline)
    if first:  # the first record takes the rest as it is: only the clean packages can fail it
        failing = {path: v for path, v in failing.items() if is_clean(path)}
    if failing:
        print(f"mypy: {' and '.join(CLEAN)} must have no error; elsewhere no more errors than "
              "the baseline (mypy-baseline.txt) allows:")
        for path, (allowed, found) in sorted(failing.items()):
            print(f"  {path}: {allowed} → {found}" + ("  (held clean)" if is_clean(path) else ""))
            print("\n".join(f"    {line}" for line in lines if line.startswith(path + ":")))
        return 1
    if first:
        write_baseline(counts)
        print(f"mypy baseline recorded: {sum(counts.values())} errors in {len(counts)} modules")
        return 0
    shrunk = sum(baseline.values()) - sum(counts.values())
    if "--update" in argv:
        write_baseline(counts)
        print(f"mypy baseline written: {sum(counts.values())} errors in {len(counts)} modules")
    elif shrunk:
        print(f"mypy: {shrunk} fewer errors than the baseline; record it with "
              "`python scripts/mypy_baseline.py --update`")
    else:
        print(f"mypy: {sum(counts.values())} errors, as recorded in the baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
