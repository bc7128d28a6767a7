"""Reading a geocoder's answer whatever its exact shape: the API is being rewritten while this
evaluation stands, so the reader looks for the candidates, their grid, building and confidence
under the names an answer may reasonably use, and says which rule decided "confident".

Documented today (docs/locate.md): ``{"candidates": [{"building": {"code"}, "grid": {"code"},
"grids": [...], "score", "confident"}, ...]}``; 404 ``address_not_found`` when nothing is
plausible; ``confident`` means a score of at least 0.8.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CONFIDENT_SCORE = 0.8  # docs/locate.md: "`confident` means ≥ 0.8"; used only when no flag is sent
CANDIDATE_KEYS = ("candidates", "results", "matches", "answers")
NESTED_KEYS = ("geocode", "result", "answer", "match", "address", "best")
CONFIDENT_WORDS = {"confident", "high", "exact", "certain", "sure"}


@dataclass(frozen=True)
class Candidate:
    grid: str | None
    grids: tuple[str, ...]
    building: str | None
    confident: bool | None  # None: the answer does not say
    score: float | None
    reason: str | None


@dataclass
class Answer:
    status: int  # HTTP status, or 0 when no answer came (connection error, timeout)
    candidates: list[Candidate] = field(default_factory=list)
    confident_flag: bool | None = None  # the answer's own top-level flag, if any
    reason: str | None = None
    span: str | None = None  # free text: the part the geocoder used
    error: str | None = None

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def confident(self) -> tuple[bool, str]:
        """Whether the top answer is confident, and by which rule: ``flag`` (the answer says
        so), ``score`` (no flag: score ≥ 0.8 as documented) or ``none`` (no answer)."""
        top = self.top
        if top is None:
            return False, "none"
        if top.confident is not None:
            return top.confident, "flag"
        if self.confident_flag is not None:
            return self.confident_flag, "flag"
        if top.score is not None:
            return top.score >= CONFIDENT_SCORE, "score"
        return False, "none"


def _code(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("code") or value.get("grid_code") or value.get("id")
    return str(value) if value not in (None, "") else None


def _flag(value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in CONFIDENT_WORDS | {"true", "yes", "1"}
    return None


def candidate(d: dict) -> Candidate:
    grids = tuple(c for c in (_code(g) for g in d.get("grids") or []) if c)
    grid = _code(d.get("grid")) or _code(d.get("grid_code"))
    if grid is None and len(grids) == 1:
        grid = grids[0]
    building = (_code(d.get("building")) or _code(d.get("building_code")) or _code(d.get("site"))
                or _code(d.get("place")))
    confident = _flag(d.get("confident"))
    if confident is None:
        confident = _flag(d.get("confidence"))
    score = d.get("score")
    reason = d.get("reason") or d.get("why") or d.get("status")
    return Candidate(grid, grids, building, confident,
                     float(score) if isinstance(score, int | float) else None,
                     str(reason) if reason else None)


def _find(body, depth: int = 0) -> tuple[list[dict], dict | None]:
    """The candidate list and the object that holds it, searched a few levels down."""
    if isinstance(body, list):
        if body and all(isinstance(x, dict) for x in body) and any("grid" in x for x in body):
            return body, None
        for x in body[:3]:
            found, holder = _find(x, depth + 1)
            if found:
                return found, holder
        return [], None
    if not isinstance(body, dict) or depth > 3:
        return [], None
    for key in CANDIDATE_KEYS:
        if isinstance(body.get(key), list):
            return [x for x in body[key] if isinstance(x, dict)], body
    if "grid" in body or "grid_code" in body:
        return [body], body
    for key in NESTED_KEYS:
        if isinstance(body.get(key), dict | list):
            found, holder = _find(body[key], depth + 1)
            if found:
                return found, holder
    return [], None


def _span(body) -> str | None:
    if not isinstance(body, dict):
        return None
    for key in ("span", "address_text", "matched_text", "extracted"):
        value = body.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            return value["text"]
    return None


def read(status: int, body) -> Answer:
    """An answer from an HTTP status and its JSON body (any of the shapes above)."""
    found, holder = _find(body) if status < 500 else ([], None)
    answer = Answer(status, [candidate(d) for d in found])
    if isinstance(holder, dict):
        answer.confident_flag = _flag(holder.get("confident"))
        answer.reason = holder.get("reason")
    if isinstance(body, dict):
        answer.span = _span(body)
        if answer.confident_flag is None:
            answer.confident_flag = _flag(body.get("confident"))
        answer.reason = answer.reason or body.get("reason") or (body.get("code") if status >= 400 else None)
        if status >= 400:
            answer.error = body.get("code") or body.get("error")
    return answer


def from_bulk_row(row: dict[str, str]) -> Answer:
    """One output row of ``gridmap geocode FILE`` (building_code, grid_code, score, error, and
    a ``confident`` column if the command writes one)."""
    grid = row.get("grid_code") or None
    score = row.get("score")
    try:
        value = float(score) if score not in (None, "") else None
    except ValueError:
        value = None
    flag = _flag(row["confident"]) if row.get("confident") not in (None, "") else None
    if not grid and not row.get("building_code"):
        return Answer(404, [], reason=row.get("error") or None, error=row.get("error") or None)
    return Answer(200, [Candidate(grid, (), row.get("building_code") or None, flag, value,
                                  row.get("reason") or None)])
