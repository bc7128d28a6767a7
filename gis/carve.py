"""Carving a new grid out of an overloaded one (step 2 of gis/rebalance.py's search): a part of
about the wanted households cut by a straight line swept across the grid in 24 directions, or
grown as a region from a unit on its edge, scored by its cut, compactness and closeness to the
target, then polished by single-unit flips. Works on the unit graph alone (gis/unit_graph.py)."""

from __future__ import annotations

import math

import numpy as np

from gis.unit_graph import ROAD_COST, Network, connected

# A part keeps this much above the compactness bound (see gis.rebalance.MARGIN: the search's
# figure runs up to about 0.5 % above the reported geodesic one).
MARGIN = 0.005
SWEEP_DIRECTIONS = 24
GROWTH_SEEDS = 40  # regions grown from at most this many units on a grid's edge
COMPACTNESS_M = 3000.0  # as gis.rebalance's: metres of boundary per unit of Polsby–Popper


def carve(net: Network, members: set[int], low: int, high: int, bound: float
          ) -> set[int] | None:
    """A connected part of ``members`` with ``low``–``high`` households whose rest stays
    connected, cut as short as possible (along roads where it can) and both sides compact (at
    least ``bound``); None if there is none. Candidates: a straight line swept across the grid
    in 24 directions, and regions grown from each unit on the grid's edge (always taking the
    neighbour that lengthens the cut least) — each polished by single-unit flips."""
    target = low + 0.15 * (high - low)
    best: tuple[float, set[int]] | None = None
    for part in [*_sweeps(net, members, low, high), *_grown(net, members, low, high)]:
        candidate = _polish(net, members, part, low, high, target)
        score = _score(net, members, candidate, target, high - low, bound)
        if score is not None and (best is None or score < best[0]):
            best = (score, candidate)
    return best[1] if best else None


def _sweeps(net: Network, members: set[int], low: int, high: int) -> list[set[int]]:
    order = sorted(members)
    centre = net.centre[order]
    found = []
    for k in range(SWEEP_DIRECTIONS):
        angle = 2 * math.pi * k / SWEEP_DIRECTIONS
        along = centre @ np.array([math.cos(angle), math.sin(angle)])
        part: set[int] = set()
        total = 0
        for idx in np.argsort(along, kind="stable"):
            part.add(order[idx])
            total += int(net.households[order[idx]])
            if total > high:
                break
            if total >= low:
                found.append(set(part))
                break
    return found


def _grown(net: Network, members: set[int], low: int, high: int) -> list[set[int]]:
    edge = sorted(i for i in members if any(j not in members for j in net.edges[i])
                  or len(net.edges[i]) < 3)
    found = []
    for seed in edge[:GROWTH_SEEDS]:
        part, total = {seed}, int(net.households[seed])
        # per unit next to the part: how much taking it lengthens the cut (its boundary with
        # the rest of the grid less its boundary with the part), updated as the part grows
        growth: dict[int, float] = {}
        _touch(net, members, part, growth, seed)
        while total < low and growth:
            step = min(growth, key=lambda j: (growth[j], j))
            del growth[step]
            part.add(step)
            total += int(net.households[step])
            _touch(net, members, part, growth, step)
        if low <= total <= high:
            found.append(part)
    return found


def _touch(net: Network, members: set[int], part: set[int], growth: dict[int, float],
           added: int) -> None:
    """How much the cut grows if each unit of ``members`` next to ``added`` joins ``part``
    (``net.cost`` written out: this runs hundreds of thousands of times in a rebalance)."""
    edges = net.edges
    for j in edges[added]:
        if j in members and j not in part:
            around = edges[j]
            if j in growth:
                shared, road = around[added]
                growth[j] -= 2 * (shared * (ROAD_COST if road else 1.0))
            else:
                growth[j] = (sum(s * (ROAD_COST if r else 1.0) for k, (s, r) in around.items()
                                 if k in members and k not in part)
                             - sum(s * (ROAD_COST if r else 1.0) for k, (s, r) in around.items()
                                   if k in part))


def _cut(net: Network, part: set[int], members: set[int]) -> float:
    return sum(net.cost(i, j) for i in part for j in net.edges[i] if j in members and j not in part)


def _pp(net: Network, part: set[int]) -> float:
    inner = sum(s for i in part for j, (s, _r) in net.edges[i].items() if j in part)
    p = float(net.perimeter[list(part)].sum()) - inner
    return 4 * math.pi * float(net.area[list(part)].sum()) / p ** 2 if p > 0 else 0.0


def _score(net: Network, members: set[int], part: set[int], target: float, span: int,
           bound: float) -> float | None:
    rest = members - part
    if not part or not rest or not connected(net, part) or not connected(net, rest):
        return None
    pp_part, pp_rest = _pp(net, part), _pp(net, rest)
    if min(pp_part, pp_rest) < bound + MARGIN:
        return None
    hh = int(net.households[list(part)].sum())
    return (_cut(net, part, members) - COMPACTNESS_M * (pp_part + pp_rest)
            + 50.0 * abs(hh - target) / max(span, 1))


def _polish(net: Network, members: set[int], part: set[int], low: int, high: int,
            target: float, rounds: int = 3) -> set[int]:
    """Single-unit flips across the cut that shorten it, staying within ``low``–``high``."""
    hh = int(net.households[list(part)].sum())
    for _ in range(rounds):
        improved = False
        frontier = {i for i in part for j in net.edges[i] if j in members and j not in part}
        frontier |= {j for i in part for j in net.edges[i] if j in members and j not in part}
        for u in sorted(frontier):
            inside = u in part
            h = int(net.households[u]) * (-1 if inside else 1)
            if not low <= hh + h <= high:
                continue
            gain = sum(net.cost(u, j) * (1 if (j in part) != inside else -1)
                       for j in net.edges[u] if j in members)
            if gain <= 0:
                continue
            trial = part - {u} if inside else part | {u}
            if trial and connected(net, trial) and connected(net, members - trial):
                part, hh, improved = trial, hh + h, True
        if not improved:
            break
    return part


def carve_across(net: Network, a: set[int], b: set[int], need_a: int, need_b: int, low: int,
                 high: int, bound: float, keep: int = 6) -> list[set[int]]:
    """New grids taken from two adjacent overloaded grids at once: at least ``need_a``
    households of ``a`` and ``need_b`` of ``b`` (each one's excess), ``low``–``high`` in all,
    what is left of each in the norm, everything in one piece and compact (at least
    ``bound``). Where two neighbours are both over the norm, one new grid across their common
    boundary moves about their excess together, where a new grid out of each alone moves
    ``low`` or more twice. Regions grown from each unit along the common boundary, always
    taking the unit that lengthens the cut least on the side still short of its need, and
    then on until ``high`` (a rounder part may hold a few more); the ``keep`` best (fewest
    households, then the shortest cut and roundest shapes), best first."""
    both = a | b
    seeds = sorted(i for i in both if any((j in b) if i in a else (j in a) for j in net.edges[i]))
    found: dict[frozenset[int], float] = {}
    for seed in seeds[:GROWTH_SEEDS]:
        part = {seed}
        taken = [0, 0]  # households taken from a, from b
        taken[seed in b] += int(net.households[seed])
        growth: dict[int, float] = {}
        _touch(net, both, part, growth, seed)
        while growth and sum(taken) <= high:
            if taken[0] >= need_a and taken[1] >= need_b and sum(taken) >= low:
                key = frozenset(part)
                if key not in found:
                    score = _score_across(net, a, b, part, need_a, need_b, low, high, bound)
                    if score is not None:
                        found[key] = score
            short = a if taken[0] < need_a else b if taken[1] < need_b else both
            pool = [j for j in growth if j in short] or list(growth)
            step = min(pool, key=lambda j: (growth[j], j))
            del growth[step]
            part.add(step)
            taken[step in b] += int(net.households[step])
            _touch(net, both, part, growth, step)
    ranked = sorted(found, key=lambda k: (found[k], sorted(k)))
    return [set(k) for k in ranked[:keep]]


def _score_across(net: Network, a: set[int], b: set[int], part: set[int], need_a: int,
                  need_b: int, low: int, high: int, bound: float) -> float | None:
    hh = int(net.households[list(part)].sum())
    rests = [a - part, b - part]
    if not low <= hh <= high or not all(rests):
        return None
    for rest, whole, need in ((rests[0], a, need_a), (rests[1], b, need_b)):
        left = int(net.households[list(rest)].sum())
        if int(net.households[list(whole)].sum()) - left < need or not low <= left <= high:
            return None
    if not all(connected(net, s) for s in (part, *rests)):
        return None
    shapes = [_pp(net, s) for s in (part, *rests)]
    if min(shapes) < bound + MARGIN:
        return None
    return hh + (_cut(net, part, a | b) - COMPACTNESS_M * sum(shapes)) / 100.0


def regions_along(net: Network, members: set[int], towards: set[int], least: int, most: int,
                  seeds: int = 12) -> list[set[int]]:
    """Connected parts of ``members`` next to ``towards`` (a neighbour's units) holding
    ``least``–``most`` households, to be given to that neighbour whole: grown from each unit
    along the common boundary (at most ``seeds`` of them), always taking the unit that
    lengthens the cut least, every size on the way. A region keeps both grids rounder than the
    same households given as strips along the boundary."""
    found: dict[frozenset[int], None] = {}
    households = net.households.tolist()  # Python ints: read millions of times below
    for seed in sorted(i for i in members if any(j in towards for j in net.edges[i]))[:seeds]:
        part, total = {seed}, households[seed]
        growth: dict[int, float] = {}
        _touch(net, members, part, growth, seed)
        while True:
            if least <= total <= most:
                found.setdefault(frozenset(part))
            room = most - total
            pool = [j for j in growth if households[j] <= room]
            if not pool:
                break
            step = min(pool, key=lambda j: (growth[j], j))
            del growth[step]
            part.add(step)
            total += households[step]
            _touch(net, members, part, growth, step)
    return [set(k) for k in sorted(found, key=sorted)]
