"""The lineage of a run as a graph, and a layout that needs no simulation.

Both work column-wise on the ``programs`` Arrow table, so 100k programs take
about a second: the graph is built with one ``add_nodes_from`` and one
``add_edges_from``, and the layout puts each program at (x = generation,
y = its rank within the generation, siblings next to each other under their
parent's rank) instead of running a force layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NODE_ATTRS", "build_lineage", "first_parents", "layout", "sample_ids"]

# Program columns copied onto each node (plus ``metrics``, parsed from JSON).
NODE_ATTRS = ("score", "status", "island", "generation", "iteration", "model", "edit_kind")


def _flat_parents(programs: pa.Table) -> tuple[list[str], np.ndarray]:
    """All parent ids flattened, and how many each program has."""
    parent_ids = programs.column("parent_ids").combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(parent_ids), 0).to_numpy(zero_copy_only=False)
    return parent_ids.flatten().to_pylist(), lengths.astype(np.int64)


def first_parents(programs: pa.Table) -> list[str | None]:
    """Each program's primary parent (the first of ``parent_ids``; None for a seed)."""
    if programs.num_rows == 0:
        return []
    flat, lengths = _flat_parents(programs)
    starts = np.cumsum(lengths) - lengths
    return [flat[s] if n else None for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]


def build_lineage(programs: pa.Table) -> nx.DiGraph[str]:
    """Every program as a node; an edge from each parent to its child.

    Edges carry ``primary`` (True for the parent the child was mutated from,
    False for an inspiration shown in the prompt), ``model`` and ``edit_kind``
    of the child. A parent id the table does not hold (a live run read between
    two commits) still gets its edge, and so an attribute-less node.
    """
    ids = programs.column("id").to_pylist()
    columns = [programs.column(name).to_pylist() for name in NODE_ATTRS]
    metrics = [json.loads(text) if text else {} for text in programs.column("metrics").to_pylist()]
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(
        (pid, {**dict(zip(NODE_ATTRS, values, strict=True)), "metrics": m})
        for pid, m, *values in zip(ids, metrics, *columns, strict=True)
    )
    # Flatten the list column once: (parent, child index, position in the list).
    if not ids:
        return graph
    flat, lengths = _flat_parents(programs)
    child = np.repeat(np.arange(len(ids)), lengths)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    position = np.arange(len(flat)) - np.repeat(offsets, lengths)
    model = columns[NODE_ATTRS.index("model")]
    edit_kind = columns[NODE_ATTRS.index("edit_kind")]
    graph.add_edges_from(
        (
            parent,
            ids[c],
            {"primary": bool(k == 0), "model": model[c], "edit_kind": edit_kind[c]},
        )
        for parent, c, k in zip(flat, child.tolist(), position.tolist(), strict=True)
    )
    return graph


def sample_ids(ids: Sequence[str], keep: Iterable[str], max_nodes: int) -> tuple[list[str], bool]:
    """At most ``max_nodes`` of ``ids`` (in their order): all of ``keep`` plus an
    even sample of the rest. Returns (ids, whether it was sampled)."""
    if len(ids) <= max_nodes:
        return list(ids), False
    keep = set(keep)
    rest = np.array([i for i in ids if i not in keep], dtype=object)
    room = max(0, max_nodes - len(keep))
    picks = np.linspace(0, len(rest) - 1, num=min(room, len(rest))).round().astype(int)
    keep.update(rest[picks].tolist())
    return [i for i in ids if i in keep], True


def layout(
    ids: Sequence[str], parents: Sequence[str | None], generations: Sequence[int]
) -> dict[str, tuple[float, float]]:
    """id -> (x, y): x the generation, y the rank within it, children ordered by
    their parent's rank so siblings sit together; each column is centred on 0.

    ``parents`` is each program's primary parent (None for the seed, or one not
    shown); generations are processed in order, so a parent is always placed
    before its children.
    """
    gen = np.asarray(generations, dtype=np.int64) if len(ids) else np.zeros(0, np.int64)
    rank = dict.fromkeys(ids, -1.0)
    positions: dict[str, tuple[float, float]] = {}
    order = np.argsort(gen, kind="stable")
    bounds = np.flatnonzero(np.diff(gen[order])) + 1
    for block in np.split(order, bounds) if len(order) else []:
        members = [ids[i] for i in block.tolist()]
        parent_rank = np.array([rank.get(parents[i], -1.0) for i in block.tolist()])
        sorted_members = [members[j] for j in np.argsort(parent_rank, kind="stable").tolist()]
        x = float(gen[block[0]])
        centre = (len(sorted_members) - 1) / 2.0
        for y, pid in enumerate(sorted_members):
            rank[pid] = float(y)
            positions[pid] = (x, y - centre)
    return positions
