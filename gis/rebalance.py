"""Minimal-change rebalancing: bring a community's grids into the household norm by moving as
few households across as few boundaries as possible.

The question is not GerryChain's ("draw k balanced grids"), it is the planner's: *today's grids,
with the least change that fixes the ones out of norm*. The lower bound of households that must
move is the excess over the norm (and the shortfall under it). The search works on the unit
graph (units = blocks cut by roads and alleys, split around buildings; edges = shared
boundaries, with their length in metres and whether they run along a road or alley):

1. **Give to neighbours** (a flip chain, as GerryChain's flip proposals, but directed): an
   overloaded grid hands boundary units to adjacent grids with room — a few chosen together for
   the fewest households (a small subset sum), or one at a time by score (the change of the
   boundary, where a metre along a road or alley costs a third; the compactness the two grids
   gain; households beyond the need; a receiver's shortfall it fills), a receiver taken over
   the norm passing on one level further. Never disconnecting a grid or taking it below the
   compactness bound. Households moved ≈ the excess.
2. **Carve new grids** when the neighbours have no room: the overloaded grid is cut into ``p``
   grids, each part carved by sweeping a straight line across it in 24 directions (compact by
   construction) and polishing the cut by single-unit flips; carved parts are kept near the low
   end of the norm so the remainder, which keeps the grid's code, holds as many households as it
   may. Households moved = what the carved parts hold. Two overloaded neighbours can also share
   one new grid carved across their common boundary, each giving about its excess (one new grid
   of ``low`` households or more, not two). The carving itself is gis/carve.py.
3. Grids under the norm **take** boundary units from neighbours that can spare them, or are
   **merged** into a neighbour when together they fit.

For each overloaded grid the option that moves the fewest households wins, each 0.01 of the
community's mean Polsby–Popper it loses counting as ``weight / 100`` households more. The
compactness bound: a changed grid keeps ``bound`` (or, if it had less, loses at most 0.1).
Dedicated grids (schools, parks) are never touched. Then gis/polish.py finishes the answer:
moved units not needed go back (largest first), and a local search of single units, pairs and
exchanges lowers households moved and compactness lost. The search runs with a few weights
(and once preferring carves across two neighbours), and the answer that meets more of the
planner's goals — all in norm; households moved ≤ 1.5 × :func:`least_moves`; mean
Polsby–Popper at most 0.05 below today's — wins. The unit graph is gis/unit_graph.py.

Why this module is long: it is one search — three ways to fix a grid (give, carve, take or
merge), the bookkeeping they share (households, area and perimeter per grid, updated move by
move) and the choice between them; apart, each piece would need the others to be read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gis import carve as carving
from gis.carve import carve, carve_across, regions_along
from gis.polish import Goals, improve, trim
from gis.unit_graph import Network, connected

# A move's score is the change of the weighted boundary (metres) minus this many metres per unit
# of Polsby–Popper the two grids gain together: a move that keeps grids round wins.
COMPACTNESS_M = carving.COMPACTNESS_M
OVERSHOOT_M = 3.0  # … plus this many metres per household moved beyond what is needed
SHORTFALL_M = 5.0  # … less this many per household that fills a grid under the norm
SETS_TRIED = 50  # sets of units tried together to give, fewest households first
SLACK = 0.1  # a grid already below the compactness bound may lose this much of it, no more
# The search's Polsby–Popper (units' areas and perimeters in a local metric frame, less their
# shared seams) runs up to about 0.5 % above the geodesic figure of the grid's outline that is
# reported: it keeps this much above every bound, so that the figures reported keep the bound.
MARGIN = carving.MARGIN


class RebalanceError(ValueError):
    """The units cannot be rebalanced as asked; the message says why."""


@dataclass
class Outcome:
    labels: list[str]  # per unit (in the network's order), the grid it ends in
    new_grids: list[str]  # codes the rebalance created
    removed: list[str]  # codes merged away
    unresolved: list[str]  # grids still out of norm (the message says why in ``notes``)
    notes: list[str] = field(default_factory=list)


class _Plan:
    """Labels with per-grid households, area and perimeter kept up to date."""

    def __init__(self, net: Network, labels: list[str]):
        self.net, self.labels = net, list(labels)
        self.members: dict[str, set[int]] = {}
        for i, g in enumerate(self.labels):
            self.members.setdefault(g, set()).add(i)
        self.hh = {g: int(net.households[list(m)].sum()) for g, m in self.members.items()}
        self.area = {g: float(net.area[list(m)].sum()) for g, m in self.members.items()}
        self.perim = {g: self._perimeter(m) for g, m in self.members.items()}
        self.start_pp = {g: self.pp(g) for g in self.members}

    def _perimeter(self, members: set[int]) -> float:
        inner = sum(s for i in members for j, (s, _r) in self.net.edges[i].items() if j in members)
        return float(self.net.perimeter[list(members)].sum()) - inner

    def compact_enough(self, grid: str, value: float, bound: float) -> bool:
        """A changed grid keeps at least ``bound`` of Polsby–Popper — or, if it was less compact
        than that to begin with, loses at most ``SLACK`` of what it had."""
        start = self.start_pp.get(grid)
        return value >= (bound if start is None else min(bound, start - SLACK)) + MARGIN

    def pp(self, grid: str) -> float:
        p = self.perim.get(grid, 0.0)
        return 4 * math.pi * self.area[grid] / p ** 2 if p > 0 else 0.0

    def after_move(self, i: int, src: str, dst: str) -> tuple[float, float]:
        """Polsby–Popper of ``src`` and ``dst`` if unit ``i`` moved between them."""
        net = self.net
        to_src = sum(s for j, (s, _r) in net.edges[i].items() if self.labels[j] == src)
        to_dst = sum(s for j, (s, _r) in net.edges[i].items() if self.labels[j] == dst)
        p_src = self.perim[src] - net.perimeter[i] + 2 * to_src
        p_dst = self.perim[dst] + net.perimeter[i] - 2 * to_dst
        a_src, a_dst = self.area[src] - net.area[i], self.area[dst] + net.area[i]
        return (4 * math.pi * a_src / p_src ** 2 if p_src > 0 else 0.0,
                4 * math.pi * a_dst / p_dst ** 2 if p_dst > 0 else 0.0)

    def move(self, i: int, dst: str) -> None:
        src, net = self.labels[i], self.net
        to_src = sum(s for j, (s, _r) in net.edges[i].items() if self.labels[j] == src)
        to_dst = sum(s for j, (s, _r) in net.edges[i].items() if self.labels[j] == dst)
        self.perim[src] += 2 * to_src - net.perimeter[i]
        self.perim[dst] = self.perim.get(dst, 0.0) + net.perimeter[i] - 2 * to_dst
        self.area[src] -= net.area[i]
        self.area[dst] = self.area.get(dst, 0.0) + net.area[i]
        self.hh[src] -= int(net.households[i])
        self.hh[dst] = self.hh.get(dst, 0) + int(net.households[i])
        self.members[src].discard(i)
        self.members.setdefault(dst, set()).add(i)
        self.labels[i] = dst
        if not self.members[src]:
            for table in (self.members, self.hh, self.area, self.perim):
                del table[src]

    def delta_cut(self, i: int, src: str, dst: str) -> float:
        """Change of the weighted boundary length if unit ``i`` moved from ``src`` to ``dst``."""
        net, change = self.net, 0.0
        for j in net.edges[i]:
            if self.labels[j] == src:
                change += net.cost(i, j)
            elif self.labels[j] == dst:
                change -= net.cost(i, j)
        return change


def _flips(plan: _Plan, src: str, receivers: Callable[[str], bool],
           room: Callable[[str, int], bool], bound: float, remaining: int, low: int
           ) -> list[tuple[float, int, str]]:
    """Single-unit moves out of ``src`` into a neighbouring receiver with room, best first:
    (score, unit, grid). The score is the change of the weighted boundary, less what the two
    grids gain in compactness, plus the households moved beyond the ``remaining`` need, less
    the households that fill a receiver's shortfall (one move fixing two grids)."""
    out = []
    for i in plan.members[src]:
        h = int(plan.net.households[i])
        if h <= 0:
            continue
        for dst in {plan.labels[j] for j in plan.net.edges[i]} - {src}:
            if not receivers(dst) or not room(dst, h):
                continue
            pp_src, pp_dst = plan.after_move(i, src, dst)
            if not plan.compact_enough(src, pp_src, bound) or not plan.compact_enough(dst, pp_dst, bound):
                continue
            gain = pp_src + pp_dst - plan.pp(src) - plan.pp(dst)
            out.append((plan.delta_cut(i, src, dst) - COMPACTNESS_M * gain
                        + OVERSHOOT_M * max(0, h - remaining)
                        - SHORTFALL_M * min(h, max(0, low - plan.hh[dst])), i, dst))
    out.sort()
    return out


def give(plan: _Plan, src: str, need: int, low: int, high: int, movable: Callable[[str], bool],
         bound: float, depth: int = 1, avoid: frozenset[str] = frozenset()) -> int:
    """Hand boundary units of ``src`` to neighbours until it has ``need`` households fewer; a
    neighbour taken over ``high`` hands on in turn (``depth`` levels, never back along the
    chain). Returns the households moved, or -1 with the plan unchanged."""

    def moves(remaining: int):
        candidates = _flips(plan, src, lambda g: movable(g) and g not in avoid,
                            lambda g, h: depth > 0 or plan.hh[g] + h <= high, bound, remaining,
                            low)
        for _score, i, dst in candidates[:4]:
            if len(plan.members[src]) > 1 and connected(plan.net, plan.members[src] - {i}):
                yield i, lambda i=i, dst=dst: _settle(
                    plan, i, dst, dst, lambda g: plan.hh[g] - high, depth, lambda g, over:
                    give(plan, g, over, low, high, movable, bound, depth - 1, avoid | {src}))

    return _accumulate(plan, need, moves)


def _accumulate(plan: _Plan, need: int, moves) -> int:
    """Take the first move that works from ``moves(remaining)`` (unit, attempt), again and
    again, until the units moved hold ``need`` households; the households moved in all (chains
    included), or -1 with the plan as it was."""
    saved = list(plan.labels)
    counted = moved = 0
    while counted < need:
        for unit, attempt in moves(need - counted):
            done = attempt()
            if done >= 0:
                counted, moved = counted + int(plan.net.households[unit]), moved + done
                break
        else:
            _reset(plan, saved)
            return -1
    return moved


def _settle(plan: _Plan, unit: int, dst: str, neighbour: str, gap: Callable[[str], int],
            depth: int, follow: Callable[[str, int], int]) -> int:
    """Move ``unit`` to ``dst``; if that leaves ``neighbour`` out of norm by ``gap(neighbour)``,
    let ``follow`` fix it (``depth`` permitting). Households moved, or -1 with the move undone."""
    mark = list(plan.labels)
    h = int(plan.net.households[unit])
    plan.move(unit, dst)
    left = gap(neighbour) if neighbour in plan.hh else 0
    if left <= 0:
        return h
    if depth > 0:
        more = follow(neighbour, left)
        if more >= 0:
            return h + more
    _reset(plan, mark)
    return -1


def give_fewest(plan: _Plan, src: str, need: int, low: int, high: int,
                movable: Callable[[str], bool], bound: float, width: int = 3,
                cost: Callable[[int], float] | None = None) -> int:
    """Like :func:`give` without passing on, but choosing up to ``width`` boundary units
    together so that the households moved are as few as possible (a small subset sum over
    the best candidates) — or, given ``cost`` (of the plan as it stands, the households moved
    given), the set of least cost among the fewest :data:`SETS_TRIED`; -1 with the plan
    unchanged if no such set is found."""
    from itertools import combinations

    best_dst: dict[int, tuple[float, str]] = {}
    for score, i, dst in _flips(plan, src, movable, lambda g, h: plan.hh[g] + h <= high, bound,
                                need, low):
        if i not in best_dst:
            best_dst[i] = (score, dst)
    pool = sorted(best_dst, key=lambda i: best_dst[i][0])[:24]
    sets = []
    for size in range(1, width + 1):
        for chosen in combinations(pool, size):
            total = sum(int(plan.net.households[i]) for i in chosen)
            if total < need:
                continue
            load: dict[str, int] = {}
            for i in chosen:
                dst = best_dst[i][1]
                load[dst] = load.get(dst, 0) + int(plan.net.households[i])
            if all(plan.hh[d] + h <= high for d, h in load.items()):
                sets.append((total, sum(best_dst[i][0] for i in chosen), chosen))
    saved = list(plan.labels)
    best: tuple[float, int, list[str]] | None = None
    for total, _score, chosen in sorted(sets)[:SETS_TRIED]:
        ok = True
        for i in chosen:
            dst = best_dst[i][1]
            pp_src, pp_dst = plan.after_move(i, src, dst)
            if (len(plan.members[src]) < 2 or not connected(plan.net, plan.members[src] - {i})
                    or not plan.compact_enough(src, pp_src, bound)
                    or not plan.compact_enough(dst, pp_dst, bound)):
                ok = False
                break
            plan.move(i, dst)
        if ok and cost is None:
            return total
        if ok and cost is not None and (best is None or cost(total) < best[0]):
            best = (cost(total), total, list(plan.labels))
        _reset(plan, saved)
    if best is None:
        return -1
    _reset(plan, best[2])
    return best[1]


def give_regions(plan: _Plan, src: str, need: int, high: int, movable: Callable[[str], bool],
                 bound: float, cost: Callable[[int], float]) -> int:
    """Hand ``src``'s excess to one or two neighbours as whole regions (gis.carve.regions_along)
    rather than unit by unit: the pair of least ``cost`` (the plan as it stands, the households
    moved given). Households moved, or -1 with the plan unchanged."""
    best: tuple[float, int, list[str]] | None = None
    receivers = sorted({plan.labels[j] for i in plan.members[src] for j in plan.net.edges[i]}
                       - {src})
    receivers = [r for r in receivers if movable(r) and plan.hh[r] < high]

    def fits(*grids: str) -> bool:
        return (connected(plan.net, plan.members[src])
                and all(plan.compact_enough(g, plan.pp(g), bound) for g in (src, *grids)))

    for first in receivers:
        for part in regions_along(plan.net, plan.members[src], plan.members[first], 1,
                                  high - plan.hh[first]):
            held = int(plan.net.households[list(part)].sum())
            _move_all(plan, part, first)
            if fits(first):
                tries = ([(first, set())] if held >= need else
                         [(second, rest) for second in receivers if second != first
                          for rest in regions_along(plan.net, plan.members[src],
                                                    plan.members[second], need - held,
                                                    high - plan.hh[second])])
                for second, rest in tries:
                    _move_all(plan, rest, second)
                    total = held + int(plan.net.households[list(rest)].sum()) if rest else held
                    if fits(second):
                        value = cost(total)
                        if best is None or value < best[0]:
                            best = (value, total, list(plan.labels))
                    _move_all(plan, rest, src)
            _move_all(plan, part, src)
    if best is None:
        return -1
    _reset(plan, best[2])
    return best[1]


def _move_all(plan: _Plan, units: set[int], dst: str) -> None:
    for i in sorted(units):
        plan.move(i, dst)


def take(plan: _Plan, dst: str, need: int, low: int, high: int,
         movable: Callable[[str], bool], bound: float, depth: int = 2) -> int:
    """Pull boundary units of neighbours into ``dst`` until it holds ``need`` more households;
    a neighbour left under ``low`` takes in turn from its own neighbours (``depth`` levels
    deep). Returns the households moved, or -1 with the plan unchanged."""

    def moves(_remaining: int):
        for _score, i, src in _offers(plan, dst, high, movable, bound)[:3]:
            yield i, lambda i=i, src=src: _settle(
                plan, i, dst, src, lambda g: low - plan.hh[g], depth, lambda g, short:
                take(plan, g, short, low, high, movable, bound, depth - 1))

    return _accumulate(plan, need, moves)


def _offers(plan: _Plan, dst: str, high: int, movable: Callable[[str], bool],
            bound: float) -> list[tuple[float, int, str]]:
    """Units next to ``dst`` it could take (best first): their grid stays connected and both
    stay compact enough."""
    out = []
    for i in sorted({j for k in plan.members[dst] for j in plan.net.edges[k]} - plan.members[dst]):
        src, h = plan.labels[i], int(plan.net.households[i])
        if not movable(src) or h <= 0 or plan.hh[dst] + h > high or len(plan.members[src]) < 2:
            continue
        pp_src, pp_dst = plan.after_move(i, src, dst)
        if not plan.compact_enough(src, pp_src, bound) or not plan.compact_enough(dst, pp_dst, bound):
            continue
        if connected(plan.net, plan.members[src] - {i}):
            gain = pp_src + pp_dst - plan.pp(src) - plan.pp(dst)
            out.append((plan.delta_cut(i, src, dst) - COMPACTNESS_M * gain
                        - SHORTFALL_M * min(h, max(0, plan.hh[src] - high)), i, src))
    out.sort()
    return out



def split(plan: _Plan, grid: str, parts: int, low: int, high: int, bound: float,
          new_code: Callable[[], str]) -> list[str] | None:
    """Carve ``parts - 1`` new grids out of ``grid`` (the rest keeps its code); None, with the
    plan unchanged, if they cannot all be in ``low``–``high``."""
    rest = set(plan.members[grid])
    carved: list[set[int]] = []
    total = plan.hh[grid]
    for left in range(parts, 1, -1):
        lo = max(low, total - (left - 1) * high)
        hi = min(high, total - (left - 1) * low)
        if lo > hi:
            return None
        part = carve(plan.net, rest, lo, hi, bound)
        if part is None:
            return None
        carved.append(part)
        rest -= part
        total -= int(plan.net.households[list(part)].sum())
    if not low <= total <= high:
        return None
    codes = []
    for part in carved:
        code = new_code()
        codes.append(code)
        for i in part:
            plan.move(i, code)
    return codes


def rebalance(net: Network, labels: list[str], norm: tuple[int, int], fixed: set[str],
              next_code: Callable[[list[str]], str], *, bound: float = 0.3,
              seconds: float = 5.0) -> Outcome:
    """Bring every grid but the ``fixed`` ones into ``norm`` (households) with the fewest
    households moved (see the module's docstring). ``next_code(existing)`` names a new grid;
    ``bound`` is the least Polsby–Popper a changed grid may end with (or its own less SLACK, if
    lower already). Nothing depends on the order of a set of codes, so the same units give the
    same answer in every process; only ``seconds``, a guard against unbounded work, can stop the
    search early on a slow machine — and then the notes say so.

    The search runs once per weight of :data:`WEIGHTS` (how many households 0.01 of mean
    Polsby–Popper is worth when choosing how to fix a grid), each answer polished by
    gis/polish.py, and the answer that meets more of the planner's goals wins (fewest grids out
    of norm; households moved ≤ 1.5 × :func:`least_moves`; mean Polsby–Popper at most 0.05
    below today's), then the lower cost of the first weight."""
    deadline = time.monotonic() + seconds
    movable = _movable(fixed)
    budget = int(1.5 * least_moves(net, labels, norm, fixed))
    start_mean = _mean_pp(_Plan(net, labels), movable)
    best: tuple[tuple, Outcome] | None = None
    for weight, across in [(w, False) for w in WEIGHTS] + [(WEIGHTS[0], True)]:
        if best is not None and time.monotonic() > deadline:
            break
        outcome, plan = _search(net, labels, norm, fixed, next_code, bound, deadline, seconds,
                                weight, across)
        improve(plan, labels, norm, movable, bound, budget, start_mean, WEIGHTS[0], deadline)
        low, high = norm
        unresolved = sorted(g for g in plan.members if movable(g) and not low <= plan.hh[g] <= high)
        outcome = Outcome(list(plan.labels), [c for c in outcome.new_grids if c in plan.members],
                          outcome.removed, unresolved, [n for n in outcome.notes
                                                        if n.split(":", 1)[0] in unresolved])
        goals = Goals(plan, labels, movable, start_mean, WEIGHTS[0], budget)
        key = (len(unresolved), goals.missed(), goals.now())
        if best is None or key < best[0]:
            best = (key, outcome)
    assert best is not None
    return best[1]


def _movable(fixed: set[str]) -> Callable[[str], bool]:
    return lambda g: g not in fixed


def _search(net: Network, labels: list[str], norm: tuple[int, int], fixed: set[str],
            next_code: Callable[[list[str]], str], bound: float, deadline: float,
            seconds: float, weight: float, across: bool) -> tuple[Outcome, _Plan]:
    """One pass of the search (give, carve, take or merge; then moved units sent back),
    choosing for each overloaded grid the option of least households moved plus ``weight``
    per unit of mean Polsby–Popper lost — or, ``across``, a new grid carved across it and an
    overloaded neighbour whenever there is one (which the per-grid cost, blind to what fixing
    the neighbour alone will cost, undervalues)."""
    low, high = norm
    plan = _Plan(net, labels)
    movable = _movable(fixed)
    start_pp = _mean_pp(plan, movable)
    made: list[str] = []
    removed: list[str] = []
    notes: dict[str, str] = {}

    def new_code() -> str:
        code = next_code(sorted(set(plan.labels) | set(made) | set(removed)))
        made.append(code)
        return code

    for _round in range(3):
        over = sorted((g for g in plan.members if movable(g) and plan.hh[g] > high),
                      key=lambda g: plan.hh[g], reverse=True)
        for g in over:
            if time.monotonic() > deadline:
                break
            if plan.hh.get(g, 0) <= high:
                continue  # fixed with a neighbour's carve across both (below)
            options: list[tuple[float, list[str], list[str]]] = []  # (cost, labels, new codes)
            saved = list(plan.labels)
            for h in _over_neighbours(plan, g, high, movable):
                before = list(made)
                excess_h = plan.hh[h] - high
                for part in carve_across(net, plan.members[g], plan.members[h],
                                         plan.hh[g] - high, excess_h, low, high, bound):
                    code = new_code()
                    for i in sorted(part):
                        plan.move(i, code)
                    # it fixes h as well: h's excess, which h would move anyway, is not counted
                    options.append((_cost(plan, plan.hh[code] - excess_h, start_pp, movable,
                                          weight) - (1e9 if across else 0.0),
                                    list(plan.labels), [code]))
                    _reset(plan, saved)
                    made[:] = before
                made[:] = before
            for how in ("fewest", "regions", "direct", "chain"):
                need = plan.hh[g] - high
                moved = (give_fewest(plan, g, need, low, high, movable, bound,
                                     cost=lambda m: _cost(plan, m, start_pp, movable, weight))
                         if how == "fewest" else
                         give_regions(plan, g, need, high, movable, bound,
                                      lambda m: _cost(plan, m, start_pp, movable, weight))
                         if how == "regions"
                         else give(plan, g, need, low, high, movable, bound,
                                   depth=0 if how == "direct" else 1))
                if moved >= 0:
                    options.append((_cost(plan, moved, start_pp, movable, weight),
                                    list(plan.labels), []))
                    _reset(plan, saved)
            first = max(2, math.ceil(plan.hh[g] / high))
            for parts in (first, first + 1):
                before = list(made)
                codes = split(plan, g, parts, low, high, bound, new_code)
                if codes is not None:
                    options.append((_cost(plan, sum(plan.hh[c] for c in codes), start_pp,
                                          movable, weight), list(plan.labels), codes))
                    _reset(plan, saved)
                made[:] = before
            if not options:
                biggest = max(int(net.households[i]) for i in plan.members[g])
                notes[g] = (f"{g}: one unit (a building) holds {biggest} households, more than "
                            f"the norm's {high}" if biggest > high else
                            f"{g}: no neighbour has room and it cannot be cut into grids of "
                            f"{low}–{high} households")
                continue
            _cost_of_best, best, codes = min(options, key=lambda o: o[0])
            made.extend(codes)
            _reset(plan, best)
        for g in sorted((g for g in plan.members if movable(g) and plan.hh[g] < low),
                        key=lambda g: plan.hh[g]):
            if g not in plan.members or time.monotonic() > deadline:
                continue
            if take(plan, g, low - plan.hh[g], low, high, movable, bound) >= 0:
                continue
            partner = _merge_partner(plan, g, high, movable)
            if partner is None:
                notes[g] = (f"{g}: below {low} households and no neighbour can spare units or "
                            "take it whole")
                continue
            for i in sorted(plan.members[g]):
                plan.move(i, partner)
            (made.remove(g) if g in made else removed.append(g))
        if all(low <= plan.hh[g] <= high for g in plan.members if movable(g)):
            break
    trim(plan, labels, low, high, movable, bound)
    unresolved = sorted(g for g in plan.members if movable(g) and not low <= plan.hh[g] <= high)
    for g in unresolved:
        if g not in notes and time.monotonic() > deadline:
            notes[g] = f"{g}: the search ran out of its {seconds:g} s before fixing it; allow more"
    return Outcome(plan.labels, [c for c in made if c in plan.members], removed, unresolved,
                   [notes[g] for g in unresolved if g in notes]), plan


# Choosing between ways to fix a grid: households moved, plus this many per unit of mean
# Polsby–Popper the community loses (3000: 0.05 lost weighs as 150 households more moved; chosen
# with COMPACTNESS_M on the demo's 20 overloaded communities, docs/benchmarks.md). The search
# runs with each; the first is also the polish's and the tie-break's.
WEIGHTS = (3000.0, 0.0, 10000.0)


def _mean_pp(plan: _Plan, movable: Callable[[str], bool]) -> float:
    values = [plan.pp(g) for g in plan.members if movable(g)]
    return sum(values) / len(values) if values else 0.0


def _cost(plan: _Plan, moved: int, start_pp: float, movable: Callable[[str], bool],
          weight: float) -> float:
    return moved + weight * max(0.0, start_pp - _mean_pp(plan, movable))


def least_moves(net: Network, labels: list[str], norm: tuple[int, int], fixed: set[str]) -> int:
    """A lower bound of the households any rebalance must move: those that must leave the grids
    over the norm plus those that must enter the grids under it, less what single moves can do
    for both at once — a household moved straight from an over grid into an adjacent under
    grid (a maximum flow over those pairs). With no grid under the norm it is the excess."""
    import networkx as nx

    low, high = norm
    plan = _Plan(net, labels)
    over = {g: plan.hh[g] - high for g in plan.members if g not in fixed and plan.hh[g] > high}
    under = {g: low - plan.hh[g] for g in plan.members if g not in fixed and plan.hh[g] < low}
    both = 0
    if over and under:
        flow = nx.DiGraph()
        for g, amount in over.items():
            flow.add_edge("s", g, capacity=amount)
            for h in {plan.labels[j] for i in plan.members[g] for j in net.edges[i]} & set(under):
                flow.add_edge(g, ("in", h), capacity=amount)
        for h, amount in under.items():
            flow.add_edge(("in", h), "t", capacity=amount)
        if "t" in flow and "s" in flow:
            both = int(nx.maximum_flow_value(flow, "s", "t"))
    return sum(over.values()) + sum(under.values()) - both


def _over_neighbours(plan: _Plan, g: str, high: int, movable: Callable[[str], bool]) -> list[str]:
    """Grids next to ``g`` that are over the norm too (in code order)."""
    return sorted({plan.labels[j] for i in plan.members[g] for j in plan.net.edges[i]}
                  - {g} & {h for h in plan.members if movable(h) and plan.hh[h] > high})


def _reset(plan: _Plan, labels: list[str]) -> None:
    fresh = _Plan(plan.net, labels)
    plan.labels, plan.members, plan.hh = fresh.labels, fresh.members, fresh.hh
    plan.area, plan.perim = fresh.area, fresh.perim  # start_pp stays: the grids as they were


def _merge_partner(plan: _Plan, g: str, high: int, movable) -> str | None:
    neighbours = {plan.labels[j] for i in plan.members[g] for j in plan.net.edges[i]} - {g}
    fits = [h for h in neighbours if movable(h) and plan.hh[h] + plan.hh[g] <= high]
    return min(fits, key=lambda h: (plan.hh[h], h)) if fits else None  # ties: the lower code
