"""The last steps of gis/rebalance.py's search. :func:`trim` sends moved units that are not
needed back (largest first). :func:`improve`, once every grid is in norm, is a local search over
single units — a unit moved back, a unit moved on, or a moved unit exchanged for another of its
old grid — that lowers what the planner's goals measure: households moved (far more beyond
``budget``, 1.5 × the lower bound), and the community's mean Polsby–Popper lost (each 0.01
weighing as ``weight / 100`` households, far more beyond the goal's 0.05). Households moved
never rise above ``budget`` (or what the answer moves already, if more); every grid stays in
norm (or no further out of it), in one piece and compact enough, as in the search itself. Best
improvement first, ties by unit and code, so the same units give the same answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from gis.unit_graph import connected

if TYPE_CHECKING:
    from gis.rebalance import _Plan

PP_GOAL = 0.05  # the goal: the community's mean Polsby–Popper loses at most this much …
PP_GOAL_MARGIN = 0.003  # … which the search's own figure (not the reported one) keeps with room
BEYOND_GOAL = 10.0  # a loss beyond the goal weighs this many times more
ROUNDS = 400  # at most this many improvements (each one a unit or two)
# A grid the answer left alone, changed by the polish, weighs as this many households more: its
# boundary and its workers' area change (a unit without households moved for compactness alone
# had listed a grid whose households stayed as they were)
TOUCH = 30.0


class Goals:
    """Households moved and the mean Polsby–Popper lost, as one figure to lower."""

    def __init__(self, plan: _Plan, start: list[str], movable: Callable[[str], bool],
                 start_mean: float, weight: float, budget: int):
        self.start, self.start_mean, self.weight, self.budget = start, start_mean, weight, budget
        self.grids = sorted(g for g in plan.members if movable(g))
        self.sum_pp = sum(plan.pp(g) for g in self.grids)
        self.moved = sum(int(plan.net.households[i]) for i, g in enumerate(plan.labels)
                         if g != start[i])

    def cost(self, moved: int, sum_pp: float) -> float:
        loss = max(0.0, self.start_mean - sum_pp / len(self.grids)) if self.grids else 0.0
        beyond = max(0.0, loss - (PP_GOAL - PP_GOAL_MARGIN))
        return (moved + BEYOND_GOAL * max(0, moved - self.budget)
                + self.weight * (loss + BEYOND_GOAL * beyond))

    def now(self) -> float:
        return self.cost(self.moved, self.sum_pp)

    def missed(self) -> int:
        """How many of the two goals the plan misses: households moved within ``budget``, mean
        Polsby–Popper lost within the goal (less the margin)."""
        loss = self.start_mean - self.sum_pp / len(self.grids) if self.grids else 0.0
        return int(self.budget > 0 and self.moved > self.budget) + int(
            loss > PP_GOAL - PP_GOAL_MARGIN)


def improve(plan: _Plan, start: list[str], norm: tuple[int, int], movable: Callable[[str], bool],
            bound: float, budget: int, start_mean: float, weight: float, deadline: float
            ) -> None:
    """Lower :class:`Goals`' cost of ``plan`` by single-unit moves and exchanges (see the
    module's docstring); ``plan`` is changed in place."""
    goals = Goals(plan, start, movable, start_mean, weight, budget)
    if not goals.grids:
        return
    low, high = norm
    for _round in range(ROUNDS):
        if time.monotonic() > deadline:
            return
        candidates = sorted(_singles(plan, goals, movable, bound, budget, low, high))
        done = False
        for gain, i, dst in candidates:
            if gain >= -1e-9:
                break
            src = plan.labels[i]
            if connected(plan.net, plan.members[src] - {i}):
                _apply(plan, goals, i, dst)
                done = True
                break
        if not done:
            done = _exchange(plan, goals, movable, bound, budget, low, high)
        if not done:
            done = _pair(plan, goals, movable, bound, budget, low, high)
        if not done:
            return


def _apply(plan: _Plan, goals: Goals, i: int, dst: str) -> None:
    src, h = plan.labels[i], int(plan.net.households[i])
    before = plan.pp(src) + plan.pp(dst)
    goals.moved += h if goals.start[i] == src else -h if goals.start[i] == dst else 0
    plan.move(i, dst)
    goals.sum_pp += plan.pp(src) + plan.pp(dst) - before


def _singles(plan: _Plan, goals: Goals, movable: Callable[[str], bool], bound: float,
             budget: int, low: int, high: int) -> list[tuple[float, int, str]]:
    """(change of the cost, unit, grid) of every single move that keeps the rules, but for
    connectivity (checked for the best ones only). Only moves out of or into a grid the
    rebalance changed; one it left alone is changed only where that pays ``TOUCH`` more."""
    changed = _changed(plan, goals)
    now = goals.now()
    out = []
    for src in sorted(plan.members):
        if not movable(src) or len(plan.members[src]) < 2:
            continue
        for i in sorted(plan.members[src]):
            h = int(plan.net.households[i])
            for dst in sorted({plan.labels[j] for j in plan.net.edges[i]} - {src}):
                if not movable(dst) or (src not in changed and dst not in changed):
                    continue
                moved = goals.moved + (h if goals.start[i] == src else
                                       -h if goals.start[i] == dst else 0)
                if moved > max(budget, goals.moved):
                    continue
                if not (fits(plan.hh[src] - h, plan.hh[src], low, high)
                        and fits(plan.hh[dst] + h, plan.hh[dst], low, high)):
                    continue
                pp_src, pp_dst = plan.after_move(i, src, dst)
                if not (plan.compact_enough(src, pp_src, bound)
                        and plan.compact_enough(dst, pp_dst, bound)):
                    continue
                sum_pp = goals.sum_pp + pp_src + pp_dst - plan.pp(src) - plan.pp(dst)
                touch = TOUCH if src not in changed or dst not in changed else 0.0
                out.append((goals.cost(moved, sum_pp) - now + touch, i, dst))
    return out


def _cost_change(plan: _Plan, goals: Goals, unit: int, src: str, dst: str, bound: float,
                 moved: int, now: float) -> float | None:
    """How the goals' cost changes if ``unit`` goes from ``src`` to ``dst`` with ``moved``
    households moved in all (None: either grid would fall below the compactness bound)."""
    pp_src, pp_dst = plan.after_move(unit, src, dst)
    if not (plan.compact_enough(src, pp_src, bound) and plan.compact_enough(dst, pp_dst, bound)):
        return None
    sum_pp = goals.sum_pp + pp_src + pp_dst - plan.pp(src) - plan.pp(dst)
    return goals.cost(moved, sum_pp) - now


def _changed(plan: _Plan, goals: Goals) -> set[str]:
    moved = [i for i, g in enumerate(plan.labels) if g != goals.start[i]]
    return {plan.labels[i] for i in moved} | {goals.start[i] for i in moved}


def _pair(plan: _Plan, goals: Goals, movable: Callable[[str], bool], bound: float,
          budget: int, low: int, high: int) -> bool:
    """Two neighbouring units of a changed grid moved together into the same changed grid
    (a strip and the one behind it: where either alone would leave a notch): the best pair
    that lowers the cost. True if one was moved."""
    changed = _changed(plan, goals)
    now = goals.now()
    found = []
    for src in sorted(g for g in changed if g in plan.members and movable(g)):
        if len(plan.members[src]) < 3:
            continue
        for i in sorted(plan.members[src]):
            h_i = int(plan.net.households[i])
            for dst in sorted({plan.labels[j] for j in plan.net.edges[i]} - {src}):
                if not movable(dst) or dst not in changed:
                    continue
                mark = (goals.moved, goals.sum_pp)
                _apply(plan, goals, i, dst)
                for j in sorted(plan.net.edges[i]):
                    if plan.labels[j] != src:
                        continue
                    h = h_i + int(plan.net.households[j])
                    moved = goals.moved + (int(plan.net.households[j]) if goals.start[j] == src
                                           else -int(plan.net.households[j])
                                           if goals.start[j] == dst else 0)
                    if moved > max(budget, mark[0]) or not (
                            fits(plan.hh[src] - int(plan.net.households[j]), plan.hh[src] + h_i,
                                 low, high)
                            and fits(plan.hh[dst] + int(plan.net.households[j]),
                                     plan.hh[dst] - h_i, low, high)):
                        continue
                    gain = _cost_change(plan, goals, j, src, dst, bound, moved, now)
                    if gain is None:
                        continue
                    if gain < -1e-9 and h > 0:
                        found.append((gain, i, j, dst))
                _apply(plan, goals, i, src)
                goals.moved, goals.sum_pp = mark
    for _gain, i, j, dst in sorted(found):
        src = plan.labels[i]
        if connected(plan.net, plan.members[src] - {i, j}):
            _apply(plan, goals, i, dst)
            _apply(plan, goals, j, dst)
            return True
    return False


def _exchange(plan: _Plan, goals: Goals, movable: Callable[[str], bool], bound: float,
              budget: int, low: int, high: int) -> bool:
    """A moved unit goes back to its old grid and another unit of that grid leaves in its
    stead, to the same grid or to another changed one (where neither move alone keeps the
    norm): the first exchange that lowers the cost, the largest moved unit first. True if one
    was made."""
    changed = _changed(plan, goals)
    moved_units = sorted((i for i, g in enumerate(plan.labels) if g != goals.start[i]),
                         key=lambda i: (-int(plan.net.households[i]), i))
    for u in moved_units:
        dst, home = plan.labels[u], goals.start[u]
        if (home not in plan.members or not movable(home) or len(plan.members[dst]) < 2
                or not any(plan.labels[j] == home for j in plan.net.edges[u])):
            continue
        best = None
        mark = (goals.moved, goals.sum_pp)
        now = goals.now()
        given = int(plan.net.households[u])
        _apply(plan, goals, u, home)
        if connected(plan.net, plan.members[dst]):
            for v in sorted(plan.members[home]):
                h = int(plan.net.households[v])
                if v == u:
                    continue
                for to in sorted({plan.labels[j] for j in plan.net.edges[v]} - {home}):
                    if not movable(to) or to not in changed:
                        continue
                    moved = goals.moved + (h if goals.start[v] == home else
                                           -h if goals.start[v] == to else 0)
                    if moved > max(budget, mark[0]):
                        continue
                    # each grid against what it held before the exchange
                    was_to = plan.hh[to] + (given if to == dst else 0)
                    if not (fits(plan.hh[home] - h, plan.hh[home] - given, low, high)
                            and fits(plan.hh[to] + h, was_to, low, high)
                            and (to == dst or (fits(plan.hh[dst], plan.hh[dst] + given, low, high)
                                               and plan.compact_enough(dst, plan.pp(dst),
                                                                       bound)))):
                        continue
                    gain = _cost_change(plan, goals, v, home, to, bound, moved, now)
                    if gain is None:
                        continue
                    if (gain < -1e-9 and (best is None or (gain, v, to) < best)
                            and connected(plan.net, plan.members[home] - {v})):
                        best = (gain, v, to)
        if best is not None:
            _apply(plan, goals, best[1], best[2])
            return True
        _apply(plan, goals, u, dst)
        goals.moved, goals.sum_pp = mark
    return False


def trim(plan: _Plan, start: list[str], low: int, high: int, movable: Callable[[str], bool],
          bound: float) -> None:
    """Send moved units back where they came from whenever every grid stays in norm (or no
    further out of it), connected and compact enough: fewer households moved for the same
    result. Largest first, until nothing more can go back."""
    changed = True
    while changed:
        changed = False
        moved = sorted((i for i, label in enumerate(plan.labels) if label != start[i]),
                       key=lambda i: -int(plan.net.households[i]))
        for i in moved:
            src, dst, h = plan.labels[i], start[i], int(plan.net.households[i])
            if dst not in plan.members or not movable(dst) or len(plan.members[src]) < 2:
                continue
            if not any(plan.labels[j] == dst for j in plan.net.edges[i]):
                continue
            if not (fits(plan.hh[src] - h, plan.hh[src], low, high)
                    and fits(plan.hh[dst] + h, plan.hh[dst], low, high)):
                continue
            pp_src, pp_dst = plan.after_move(i, src, dst)
            if not plan.compact_enough(src, pp_src, bound) or not plan.compact_enough(dst, pp_dst, bound):
                continue
            if connected(plan.net, plan.members[src] - {i}):
                plan.move(i, dst)
                changed = True


def fits(after: int, before: int, low: int, high: int) -> bool:
    """In norm after the move, or at least no further out of it than before."""
    if low <= after <= high:
        return True
    distance = max(low - after, after - high)
    return distance <= max(low - before, before - high, 0) and distance < max(low - before,
                                                                               before - high)
