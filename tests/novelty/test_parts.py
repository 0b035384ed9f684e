"""The parts of the novelty check on their own: the hashed embedder, the vector
index, the judge's messages and answers, the embedding log, the 2-D map."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.analysis.embeddings import project_2d
from evolve.novelty import (
    HashedEmbedder,
    VectorIndex,
    embedding_text,
    judged_programs,
    read_judgement,
)
from evolve.novelty.judge import judge_messages
from evolve.store.embeddings import EmbeddingLog, EmbeddingRow
from evolve.testing.handler import judge_reply

BLOCK = "import math\n# EVOLVE-BLOCK-START\ndef f(x):\n    return x * 2.5\n# EVOLVE-BLOCK-END\n"

code_text = st.text(
    alphabet=st.sampled_from(list("abcxyz019 _=+-*/()[]:\n.")), min_size=0, max_size=200
)


# -- the hashed embedder ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(code_text)
def test_hashed_vectors_are_unit_or_zero_and_the_same_for_any_instance(text):
    a = HashedEmbedder().embed_now([text])[0]
    b = HashedEmbedder().embed_now([text])[0]  # a fresh token cache
    assert a.dtype == np.float32 and a.shape == (256,)
    assert np.array_equal(a, b)
    norm = float(np.linalg.norm(a))
    assert norm == pytest.approx(1.0, abs=1e-5) or norm == 0.0


@settings(max_examples=40, deadline=None)
@given(code_text, code_text)
def test_cosine_similarity_is_symmetric_and_bounded(x, y):
    a, b = HashedEmbedder(64).embed_now([x, y])
    assert -1.0001 <= float(a @ b) <= 1.0001
    assert float(a @ b) == pytest.approx(float(b @ a))


def test_a_small_edit_is_closer_than_a_rewrite():
    embedder = HashedEmbedder()
    base = "def f(x):\n    total = 0\n    for i in range(x):\n        total += i * i\n"
    base += "    return total\n"
    tweak = base.replace("i * i", "i * i * 2")
    rewrite = "def f(x):\n    return sum(map(lambda k: k ** 2, range(x)))\n"
    a, b, c = embedder.embed_now([base, tweak, rewrite])
    assert float(a @ b) > 0.8 > float(a @ c)


def test_only_the_evolve_blocks_are_embedded():
    assert embedding_text(BLOCK) == "def f(x):\n    return x * 2.5\n"
    assert embedding_text("x = 1\n") == "x = 1\n"  # no markers: all of it
    changed_outside = BLOCK.replace("import math", "import os, sys")
    assert embedding_text(changed_outside) == embedding_text(BLOCK)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="dimensions"):
        HashedEmbedder(0)
    with pytest.raises(ValueError, match="ngram"):
        HashedEmbedder(16, ngram=0)


# -- the index --------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["place", "leave", "hold", "release"]), st.integers(0, 11)),
        max_size=60,
    ),
    st.integers(0, 2**16),
)
def test_index_nearest_equals_a_brute_force_scan(operations, seed):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(12, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(8)
    index.ensure_islands(2)
    on_island: set[str] = set()
    held: set[str] = set()
    for operation, k in operations:
        pid = f"p{k}"
        index.remember(pid, vectors[k])
        if operation == "place":
            index.place(1, pid)
            on_island.add(pid)
        elif operation == "leave":
            index.leave(1, pid)
            on_island.discard(pid)
        elif operation == "hold":
            index.hold(pid, vectors[k])
            held.add(pid)
        else:
            index.release(pid)
            held.discard(pid)
    query = rng.normal(size=8).astype(np.float32)
    query /= np.linalg.norm(query)
    assert index.members(1) == on_island
    for queue, group in ((False, on_island), (True, on_island | held)):
        found = index.nearest(query, [1], queue=queue)
        if not group:
            assert found is None
            continue
        scores = {pid: float(vectors[int(pid[1:])] @ query) for pid in group}
        assert found is not None
        assert found.similarity == pytest.approx(max(scores.values()), abs=1e-5)
        assert scores[found.program_id] == pytest.approx(found.similarity, abs=1e-5)


def test_an_embedding_of_another_size_is_refused():
    index = VectorIndex(8)
    with pytest.raises(ValueError, match="8 dimensions"):
        index.remember("p1", np.zeros(4, dtype=np.float32))


# -- the judge --------------------------------------------------------------------


def test_judge_messages_round_trip_and_answers():
    messages = judge_messages("def f():\n    return 2", "def f():\n    return 1", 0.97)
    assert judged_programs(messages) == ("def f():\n    return 2", "def f():\n    return 1")
    assert judged_programs([{"role": "system", "content": "You edit programs."}]) is None
    assert read_judgement("NOVEL\nIt sorts first.") is True
    assert read_judgement("**NOT NOVEL**: only a constant") is False
    assert read_judgement("\n  novel.") is True
    assert read_judgement("Maybe?") is None
    assert read_judgement("") is None and read_judgement(None) is None


def test_the_servers_judge_rejects_a_constant_tweak_and_passes_a_change():
    assert judge_reply("return x * 2.5", "return x * 3.0").startswith("NOT NOVEL")
    assert judge_reply("return x * 2.5 + 1", "return x * 3.0").startswith("NOVEL")


# -- the log ----------------------------------------------------------------------


def test_the_log_reads_back_what_was_flushed_and_survives_a_torn_tail(tmp_path):
    log = EmbeddingLog(tmp_path)
    assert log.read() is None
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3, 4)).astype(np.float32)
    rows = [
        EmbeddingRow("p0", "program", 0),
        EmbeddingRow("p1", "rejected", 1, 0.99, "p0"),
        EmbeddingRow("p2", "program", 1, 0.5, "p0"),
    ]
    for row, vector in zip(rows[:2], vectors[:2], strict=True):
        log.append(row, vector)
    log.flush("hashed", 4)
    log.append(rows[2], vectors[2])
    log.flush("hashed", 4)
    stored = log.read()
    assert stored is not None and stored.rows == rows
    assert np.array_equal(stored.vectors, vectors)
    # A crash mid-write: half a vector and half a row line.
    with open(log.dir / "vectors.f32", "ab") as handle:
        handle.write(b"\x00" * 6)
    with open(log.dir / "rows.jsonl", "ab") as handle:
        handle.write(b'{"program_id": "p3", "ki')
    assert log.read().rows == rows  # type: ignore[union-attr]
    again = EmbeddingLog(tmp_path)  # a resume appends after the last whole row
    again.append(EmbeddingRow("p4", "program", 0), vectors[0])
    again.flush("hashed", 4)
    final = again.read()
    assert final is not None and [r.program_id for r in final.rows] == ["p0", "p1", "p2", "p4"]
    assert np.array_equal(final.vectors[3], vectors[0])


def test_the_log_refuses_another_embedder(tmp_path):
    log = EmbeddingLog(tmp_path)
    log.append(EmbeddingRow("p0", "program", 0), np.ones(4))
    log.flush("hashed", 4)
    other = EmbeddingLog(tmp_path)
    other.append(EmbeddingRow("p1", "program", 0), np.ones(8))
    with pytest.raises(Exception, match="one embedder"):
        other.flush("llm:embed", 8)


# -- the map ----------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 30), st.integers(1, 6), st.integers(0, 2**16))
def test_projection_keeps_the_rows_and_spreads_along_the_main_axis(n, d, seed):
    vectors = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    points = project_2d(vectors)
    assert points.shape == (n, 2)
    assert np.all(np.isfinite(points))
    if n >= 2:
        centred = vectors - vectors.mean(axis=0)
        total = float(np.sum(centred.astype(np.float64) ** 2))
        captured = float(np.sum(points**2))
        assert captured <= total * (1 + 1e-6) + 1e-9  # a projection never adds spread
        assert np.var(points[:, 0]) + 1e-9 >= np.var(points[:, 1])
