"""Balanced, contiguous partitions of planning units, by GerryChain's ReCom.

Why ReCom (GerryChain) and not a regionalisation (spopt's max-p, SKATER): the planner's question
is "k grids, each within 300–500 households" — a fixed number of parts balanced on one weight,
which is exactly what ReCom's spanning-tree splits produce, always contiguous; max-p chooses the
number of regions itself, and SKATER's minimum-spanning-tree cuts balance nothing by default.
GerryChain also brings far fewer dependencies (networkx, rustworkx, scipy) than spopt
(scikit-learn, PuLP, libpysal, spaghetti).

The chain starts from today's grids when they are as many as asked (so a suggestion moves few
units), otherwise from a random balanced tree partition; it walks ReCom steps for a time budget and
keeps the best plan seen: smallest worst deviation from the household target, then fewest cut
edges (shorter boundaries, more compact grids).
"""

from __future__ import annotations

import math
import random
import time
from functools import partial
from typing import cast

import networkx as nx
import numpy as np
import shapely
from gerrychain import Graph, MarkovChain, Partition
from gerrychain.accept import always_accept
from gerrychain.partition import recursive_tree_part
from gerrychain.proposals import recom
from gerrychain.tree import bipartition_tree
from gerrychain.updaters import Tally, cut_edges

from gis.metric import area_m2, length_m

WEIGHT = "households"
SHARED_EDGE_DEG = 1e-8  # about a millimetre


class BalanceError(ValueError):
    """The units cannot be partitioned as asked; the message says why."""


def unit_graph(ids: list[int], geoms: list[shapely.Geometry], weights: list[int]) -> nx.Graph:
    """Units as nodes (weighted by households), edges between units sharing a boundary."""
    graph = nx.Graph()
    for ident, weight in zip(ids, weights, strict=True):
        graph.add_node(ident, **{WEIGHT: int(weight)})
    arr = np.asarray(geoms, dtype=object)
    # Units from different overlays share edges only to within floating-point noise, so a
    # boundary counts as shared where it runs within ~1 mm of the other unit for ≥ 1 cm.
    near = np.asarray([g.buffer(SHARED_EDGE_DEG) for g in geoms], dtype=object)
    left, right = shapely.STRtree(near).query(arr, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j and arr[j].boundary.intersection(near[i]).length > 10 * SHARED_EDGE_DEG:
            graph.add_edge(ids[i], ids[j])
    return graph


def partition(graph: nx.Graph, current: dict[int, str], parts: int, target: float,
              epsilon: float, seconds: float, seed: int = 370811) -> dict[int, int]:
    """Each unit (``graph``'s nodes: unit ids; ``current``: unit id → today's grid code) → the
    number of its part, 0 … ``parts`` − 1."""
    if parts < 1:
        raise BalanceError("ask for at least one grid")
    if not nx.is_connected(graph):
        raise BalanceError("the units do not form one connected area (an exclave?); suggest for "
                           "each connected part")
    if parts == 1:
        return dict.fromkeys(graph.nodes, 0)
    rng = random.Random(seed)
    nodes = list(graph.nodes)  # GerryChain numbers nodes 0…n−1 in this order
    gc_graph = Graph.from_networkx(nx.convert_node_labels_to_integers(graph, ordering="default"))
    labels = sorted(set(current.values()))
    if len(labels) == parts and all(nx.is_connected(graph.subgraph(
            [n for n, p in current.items() if p == label])) for label in labels):
        start = {i: labels.index(current[n]) for i, n in enumerate(nodes)}
    else:
        try:
            # cast: GerryChain types nodes and parts as Hashable; ours are ints (range(parts))
            start = cast("dict[int, int]", recursive_tree_part(
                gc_graph, range(parts), target, WEIGHT, max(epsilon, 0.05), rng=rng))
        except Exception as exc:  # noqa: BLE001 - GerryChain raises bare errors when it cannot
            raise BalanceError(f"no balanced partition into {parts} grids found ({exc}); ask for "
                               "fewer or more grids") from None
    initial = Partition(gc_graph, start, updaters={WEIGHT: Tally(WEIGHT, alias=WEIGHT),
                                                   "cut_edges": cut_edges})
    proposal = _recom(target, epsilon, rng)
    chain = MarkovChain(proposal, constraints=[], acceptance_fn=always_accept,
                        initial_partition=initial, total_steps=100_000, rng=rng)
    best, best_score = initial, _score(initial, target)
    deadline = time.monotonic() + seconds
    for state in chain:
        score = _score(state, target)
        if score < best_score:
            best, best_score = state, score
        if time.monotonic() > deadline:
            break
    return {node: cast(int, best.assignment[i]) for i, node in enumerate(nodes)}


def _recom(target: float, epsilon: float, rng: random.Random):
    """ReCom steps; a pair of grids with no balanced cut (a tower block of 200 households is one
    unit) stays as it is for that step instead of stopping the walk."""
    split = partial(bipartition_tree, max_attempts=200)

    def propose(partition: Partition, *, rng: random.Random | None = rng) -> Partition:
        try:
            return recom(partition, pop_col=WEIGHT, pop_target=target, epsilon=epsilon, rng=rng,
                         bipartition_tree_fn=split)
        except RuntimeError:
            return partition
    return propose


def _score(state: Partition, target: float) -> tuple[float, int]:
    worst = max(abs(v - target) for v in state[WEIGHT].values()) / max(target, 1)
    return (round(worst, 3), len(state["cut_edges"]))


def polsby_popper(geom: shapely.Geometry) -> float:
    """4πA/P² on the ellipsoid: 1 for a disc, towards 0 for a sprawling shape."""
    perimeter = length_m(geom.boundary)
    return 4 * math.pi * area_m2(geom) / perimeter ** 2 if perimeter else 0.0
