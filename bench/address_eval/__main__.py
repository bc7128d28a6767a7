"""``python -m bench.address_eval generate|score …`` (see README.md beside this file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.address_eval",
                                     description="A held-out evaluation of gridmap's geocoder.")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the held-out sets from a database's truth")
    gen.add_argument("--database-url", required=True, help="the gridmap database (read only)")
    gen.add_argument("--out", required=True, type=Path, help="directory for the CSV sets")
    gen.add_argument("--seed", type=int, default=21)
    gen.add_argument("--standard", type=int, default=1000, help="rows of the standard form")
    gen.add_argument("--per-form", type=int, default=150, help="rows of every other form")

    score = sub.add_parser("score", help="run the sets through a gridmap and report")
    score.add_argument("directory", type=Path, help="the directory generate wrote")
    score.add_argument("--base-url", required=True, help="a running gridmap, e.g. http://127.0.0.1:8000")
    score.add_argument("--bulk", action="store_true",
                       help="also run every set through `gridmap geocode FILE`")
    score.add_argument("--gridmap", default=None,
                       help="the gridmap command for --bulk (default: the one beside this Python)")
    score.add_argument("--database-url", default=None,
                       help="for --bulk: GRIDMAP_DATABASE_URL of the command (default: its own)")
    score.add_argument("--out", type=Path, default=None,
                       help="report file (JSON; a .txt table beside it); default DIR/report.json")
    score.add_argument("--examples", type=int, default=10, help="examples of each failure per class")
    score.add_argument("--threads", type=int, default=2, help="concurrent requests")
    args = parser.parse_args(argv)

    if args.command == "generate":
        from bench.address_eval.generate import generate

        manifest = generate(args.database_url, args.out, seed=args.seed, standard=args.standard,
                            per_form=args.per_form)
        print(f"{manifest['total']:,} queries in {len(manifest['counts'])} sets written to {args.out}")
        for cls, forms in manifest["counts"].items():
            print(f"  {cls:<13} {sum(forms.values()):>6,}  ({len(forms)} forms)")
        return 0

    from bench.address_eval.score import score_directory

    report = score_directory(args.directory, base_url=args.base_url, bulk=args.bulk,
                             gridmap=args.gridmap, database_url=args.database_url,
                             out=args.out, examples=args.examples, threads=args.threads)
    print(report.table())
    print(f"report written to {report.path} and {report.path.with_suffix('.txt')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
