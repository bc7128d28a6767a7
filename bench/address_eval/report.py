"""What one query's answer means against its truth, and the report over a channel's answers:
per class and per form, as JSON and as a table to read, with the first examples of every
confident-wrong answer, every unwarranted confident answer and every miss."""

from __future__ import annotations

import json
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.address_eval.answers import Answer
from layers import clock

# The issue's goals (top-1 grid) per class; every class must have 0 confident-wrong answers.
GOALS = {"standard": 0.99, "variant": 0.99, "free_text": 0.95, "landmark": 0.95}
CLASS_ORDER = ("standard", "variant", "typo", "numeral_name", "landmark", "area", "free_text",
               "negative")


@dataclass(frozen=True)
class Outcome:
    cls: str
    form: str
    expect: str
    query: str
    expected_grids: tuple[str, ...]
    expected_building: str
    channel: str
    status: int
    answered: bool
    confident: bool
    rule: str  # how "confident" was decided: flag | score | none
    top_grid: str | None
    top_building: str | None
    in_candidates: bool
    score: float | None
    reason: str | None
    span: str | None
    error: str | None
    seconds: float

    @classmethod
    def of(cls, row: dict, channel: str, answer: Answer, seconds: float) -> Outcome:
        expected = tuple(g for g in row.get("expected_grids", "").split(";") if g)
        top = answer.top
        confident, rule = answer.confident()
        grids = {c.grid for c in answer.candidates} | {g for c in answer.candidates for g in c.grids}
        return cls(row["class"], row["form"], row["expect"], row["query"], expected,
                   row.get("expected_building", ""), channel, answer.status, top is not None,
                   confident, rule, top.grid if top else None, top.building if top else None,
                   bool(grids & set(expected)), top.score if top else None,
                   (top.reason if top else None) or answer.reason, answer.span, answer.error, seconds)

    @property
    def right(self) -> bool:
        """Top-1 grid among the expected ones; for a negative control, not confident."""
        if self.expect == "none":
            return not self.confident
        return self.top_grid is not None and self.top_grid in self.expected_grids

    @property
    def confident_wrong(self) -> bool:
        return self.confident and (self.expect == "none" or self.top_grid not in self.expected_grids)

    @property
    def unwarranted(self) -> bool:
        """Confident at grid level although the query names an area of several grids."""
        return self.confident and self.expect == "area" and self.top_grid in self.expected_grids

    @property
    def errored(self) -> bool:
        return self.status == 0 or self.status >= 500

    @property
    def refused(self) -> bool:  # a 4xx other than "not found": the input was turned away
        return 400 <= self.status < 500 and self.status != 404 and not self.answered

    @property
    def abstained(self) -> bool:
        return not self.answered and not self.errored and not self.refused

    def example(self) -> dict:
        return {"query": self.query, "form": self.form, "expected_grids": list(self.expected_grids),
                "expected_building": self.expected_building, "got_grid": self.top_grid,
                "got_building": self.top_building, "confident": self.confident, "score": self.score,
                "reason": self.reason, "status": self.status, "span": self.span, "error": self.error}


def aggregate(outcomes: list[Outcome]) -> dict:
    n = len(outcomes)
    with_building = [o for o in outcomes if o.expected_building]
    right = sum(o.right for o in outcomes)
    confident = sum(o.confident for o in outcomes)
    ms = [o.seconds * 1000 for o in outcomes if o.seconds]
    return {
        "n": n, "right": right, "right_share": right / n if n else None,
        "building_n": len(with_building),
        "building_right": sum(o.top_building == o.expected_building for o in with_building),
        "in_candidates": sum(o.in_candidates for o in outcomes),
        "confident": confident, "confident_share": confident / n if n else None,
        # what a register import or a dispatcher can act on: confident and in the right grid
        "confident_right": sum(o.confident and o.right and not o.unwarranted for o in outcomes),
        "confident_wrong": sum(o.confident_wrong for o in outcomes),
        "unwarranted": sum(o.unwarranted for o in outcomes),
        "abstained": sum(o.abstained for o in outcomes),
        "candidates_only": sum(o.answered and not o.confident for o in outcomes),
        "refused": sum(o.refused for o in outcomes), "errors": sum(o.errored for o in outcomes),
        "confidence_rule": dict(Counter(o.rule for o in outcomes if o.answered)),
        "reasons": dict(Counter(o.reason for o in outcomes if o.reason and not o.confident).most_common(6)),
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
    }


def _order(cls: str) -> tuple[int, str]:
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)


class Report:
    def __init__(self, directory: Path, path: Path, target: str, examples: int = 10) -> None:
        self.directory, self.path, self.examples = directory, path, examples
        manifest = directory / "manifest.json"
        self.meta: dict = {
            "scored": clock.now().isoformat(timespec="seconds"), "target": target,
            "sets": str(directory), "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "cores": os.cpu_count(),
            "manifest": {k: v for k, v in json.loads(manifest.read_text(encoding="utf-8")).items()
                         if k in ("seed", "generation", "truth_fingerprint", "total", "made", "database")}
            if manifest.exists() else None,
        }
        self.channels: dict[str, dict] = {}

    def unavailable(self, channel: str, why: str) -> None:
        self.channels[channel] = {"available": False, "note": why}

    def add(self, channel: str, outcomes: list[Outcome], seconds: float) -> None:
        by_class: dict[str, list[Outcome]] = defaultdict(list)
        by_form: dict[str, dict[str, list[Outcome]]] = defaultdict(lambda: defaultdict(list))
        for o in outcomes:
            by_class[o.cls].append(o)
            by_form[o.cls][o.form].append(o)
        classes = {c: aggregate(by_class[c]) for c in sorted(by_class, key=_order)}
        for cls, agg in classes.items():
            goal = GOALS.get(cls)
            agg["goal"] = goal
            agg["goal_met"] = agg["confident_wrong"] == 0 and agg["unwarranted"] == 0 and (
                goal is None or (agg["right_share"] or 0) >= goal)
        examples = {}
        for cls, items in by_class.items():
            examples[cls] = {
                "confident_wrong": [o.example() for o in items if o.confident_wrong][: self.examples],
                "unwarranted": [o.example() for o in items if o.unwarranted][: self.examples],
                "misses": [o.example() for o in items if not o.right and not o.confident_wrong]
                [: self.examples],
            }
        self.channels[channel] = {
            "available": True, "seconds": round(seconds, 2), "overall": aggregate(outcomes),
            "classes": classes,
            "forms": {c: {f: aggregate(v) for f, v in sorted(by_form[c].items())}
                      for c in sorted(by_form, key=_order)},
            "examples": examples,
        }

    def as_dict(self) -> dict:
        return {"meta": self.meta, "channels": self.channels}

    def write(self) -> None:
        self.meta["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.as_dict(), ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")
        self.path.with_suffix(".txt").write_text(self.table(examples=True), encoding="utf-8")

    # -- the table to read ------------------------------------------------------------------
    def table(self, examples: bool = False) -> str:
        lines = [f"address evaluation of {self.meta['target']} — sets {self.meta['sets']}, "
                 f"scored {self.meta['scored']}"]
        for name, endpoint in self.meta.get("endpoints", {}).items():
            lines.append(f"  endpoint {name}: {endpoint}")
        for channel, data in self.channels.items():
            lines.append("")
            if not data["available"]:
                lines.append(f"[{channel}] not available: {data['note']}")
                continue
            overall = data["overall"]
            lines.append(f"[{channel}] {overall['n']:,} queries in {data['seconds']} s; "
                         f"confidence decided by {overall['confidence_rule']}")
            lines.append(_header())
            for cls, agg in data["classes"].items():
                lines.append(_line(cls, agg, goal=True))
                for form, fagg in data["forms"][cls].items():
                    lines.append(_line("  " + form, fagg))
            if examples:
                lines += _examples(data["examples"])
        return "\n".join(lines) + "\n"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:5.1f}%"


def _header() -> str:
    return (f"{'class / form':<34}{'n':>6}{'top-1':>8}{'bldg':>8}{'conf':>8}{'conf-right':>11}"
            f"{'conf-wrong':>11}{'unwarr.':>8}{'abstain':>8}{'cands':>7}{'refused':>8}{'errors':>7}  goal")


def _line(label: str, a: dict, goal: bool = False) -> str:
    bldg = _pct(a["building_right"] / a["building_n"]) if a["building_n"] else "—"
    mark = ""
    if goal:
        target = f"≥{100 * a['goal']:.0f}%, " if a.get("goal") else ""
        mark = f"{target}0 wrong: {'met' if a['goal_met'] else 'NOT met'}"
    conf_right = _pct(a["confident_right"] / a["n"]) if a["n"] else "—"
    return (f"{label:<34}{a['n']:>6}{_pct(a['right_share']):>8}{bldg:>8}{_pct(a['confident_share']):>8}"
            f"{conf_right:>11}{a['confident_wrong']:>11}{a['unwarranted']:>8}{a['abstained']:>8}{a['candidates_only']:>7}"
            f"{a['refused']:>8}{a['errors']:>7}  {mark}")


def _examples(examples: dict) -> list[str]:
    lines = []
    for cls in sorted(examples, key=_order):
        for kind in ("confident_wrong", "unwarranted", "misses"):
            items = examples[cls][kind]
            if not items:
                continue
            lines.append(f"  {cls} — {kind.replace('_', ' ')} (first {len(items)}):")
            for e in items:
                expected = ";".join(e["expected_grids"]) or "(not confident)"
                lines.append(f"    {e['query']}  [{e['form']}]  expected {expected[:60]}"
                             f" got {e['got_grid']} {e['got_building'] or ''}"
                             f" {'CONFIDENT' if e['confident'] else ''} score={e['score']}"
                             f" {e['reason'] or ''}")
    return lines

