"""The lineage graph, the tree layout and the sampling, on small known tables."""

from __future__ import annotations

import pyarrow as pa

from evolve.analysis.lineage import build_lineage, first_parents, layout, sample_ids
from evolve.store import PROGRAM_SCHEMA


def _table(rows: list[dict]) -> pa.Table:
    base = {"status": "ok", "island": 0, "iteration": 0, "metrics": "{}", "model": "m"}
    return pa.Table.from_pylist([{**base, **row} for row in rows], schema=PROGRAM_SCHEMA)


TABLE = _table(
    [
        {"id": "s", "parent_ids": [], "generation": 0, "score": 1.0, "edit_kind": "seed"},
        {"id": "a", "parent_ids": ["s"], "generation": 1, "score": 2.0, "edit_kind": "diff"},
        {
            "id": "b",
            "parent_ids": ["s", "a"],
            "generation": 1,
            "score": 3.0,
            "edit_kind": "full",
            "metrics": '{"score": 3.0, "t": 0.5}',
        },
        {"id": "c", "parent_ids": ["a"], "generation": 2, "score": None, "status": "error"},
    ]
)


def test_nodes_carry_the_program_and_edges_mark_inspirations() -> None:
    graph = build_lineage(TABLE)
    assert sorted(graph.nodes) == ["a", "b", "c", "s"]
    assert sorted(graph.edges) == [("a", "b"), ("a", "c"), ("s", "a"), ("s", "b")]
    assert graph.edges["s", "b"] == {"primary": True, "model": "m", "edit_kind": "full"}
    assert graph.edges["a", "b"]["primary"] is False  # an inspiration of b
    assert graph.nodes["b"]["metrics"] == {"score": 3.0, "t": 0.5}
    assert graph.nodes["c"]["status"] == "error" and graph.nodes["c"]["score"] is None
    assert graph.nodes["a"]["generation"] == 1


def test_first_parents_and_an_empty_table() -> None:
    assert first_parents(TABLE) == [None, "s", "s", "a"]
    empty = PROGRAM_SCHEMA.empty_table()
    assert first_parents(empty) == []
    assert build_lineage(empty).number_of_nodes() == 0


def test_layout_puts_generations_in_columns_and_siblings_together() -> None:
    ids = ["s", "a", "b", "a1", "b1", "a2"]
    parents = [None, "s", "s", "a", "b", "a"]
    generations = [0, 1, 1, 2, 2, 2]
    pos = layout(ids, parents, generations)
    assert {pid: x for pid, (x, _) in pos.items()} == dict(
        zip(ids, map(float, generations), strict=True)
    )
    # Generation 2 ordered by the parent's rank: a's children, then b's; centred on 0.
    column = sorted((y, pid) for pid, (x, y) in pos.items() if x == 2.0)
    assert [pid for _, pid in column] == ["a1", "a2", "b1"]
    assert [y for y, _ in column] == [-1.0, 0.0, 1.0]
    assert layout([], [], []) == {}


def test_sample_keeps_the_path_and_respects_the_cap() -> None:
    ids = [f"p{i}" for i in range(1000)]
    path = ["p0", "p500", "p999", "p3"]
    shown, sampled = sample_ids(ids, path, 50)
    assert sampled and len(shown) == 50 and set(path) <= set(shown)
    assert shown == sorted(shown, key=ids.index)  # recording order kept
    assert sample_ids(ids[:10], [], 50) == (ids[:10], False)
