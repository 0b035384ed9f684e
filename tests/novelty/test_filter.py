"""The novelty filter: its verdicts, and an index that follows the database
(each island's indexed programs are exactly its valid members, whatever
migrations, evictions and resets the database did)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evolve.config import NoveltyConfig
from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.novelty import HashedEmbedder, NoveltyFilter
from evolve.records import Program, Status
from evolve.store.embeddings import EmbeddingLog

SEED_CODE = (
    "def f(x):\n    total = 0\n    for i in range(x):\n        total += i\n    return total\n"
)


def program(pid: str, code: str, island: int, fitness: float | None, parent: str | None) -> Program:
    return Program(
        id=pid,
        code=code,
        parent_ids=(parent,) if parent else (),
        island=island,
        status=Status.OK if fitness is not None else Status.ERROR,
        fitness=fitness,
        score=fitness,
    )


def make_filter(config: NoveltyConfig, database: PopulationDatabase, log=None) -> NoveltyFilter:
    novelty = NoveltyFilter(config, HashedEmbedder(64, 2), database, log_=log)
    novelty.rebuild({})
    return novelty


def seeded(num_islands: int = 2, **database) -> PopulationDatabase:
    db = PopulationDatabase(DatabaseConfig(num_islands=num_islands, **database), seed=0)
    db.add(program("p0", SEED_CODE, 0, 1.0, None))
    return db


def indexed(novelty: NoveltyFilter, island: int) -> set[str]:
    """The programs the filter compares with on ``island`` (placed or to be placed)."""
    assert novelty.index is not None
    waiting = {pid for pid, islands in novelty._unplaced.items() if island in islands}
    return novelty.index.members(island) | waiting


def valid_members(db: PopulationDatabase, island: int) -> set[str]:
    return set(db.island_member_ids(island)[: db.islands_summary()[island].num_valid])


def test_a_near_copy_is_rejected_with_its_nearest_and_a_new_idea_passes(tmp_path):
    db = seeded()
    log = EmbeddingLog(tmp_path)
    novelty = make_filter(NoveltyConfig(enabled=True, threshold=0.9), db, log)
    copy = program("p1", SEED_CODE.replace("total = 0", "total = 0  # start"), 0, None, "p0")
    verdict = novelty.check_now(copy)
    assert not verdict.novel
    assert verdict.nearest is not None and verdict.nearest.program_id == "p0"
    assert verdict.details()["similarity"] >= 0.9
    new = program("p2", "def f(x):\n    return x * (x - 1) // 2\n", 0, None, "p0")
    passed = novelty.check_now(new)
    assert passed.novel and not passed.unchecked
    assert novelty.stats.checked == 2 and novelty.stats.rejected == 1
    novelty.flush()
    stored = log.read()
    assert stored is not None
    assert [(r.program_id, r.kind) for r in stored.rows] == [("p0", "program"), ("p1", "rejected")]
    assert stored.rows[1].nearest_id == "p0"


def test_the_queue_counts_and_a_release_forgets():
    db = seeded()
    novelty = make_filter(NoveltyConfig(enabled=True, threshold=0.95, scope="all"), db)
    first = program("p1", "def f(x):\n    return sum(range(x))\n", 1, None, "p0")
    verdict = novelty.check_now(first)
    assert verdict.novel
    novelty.hold(first, verdict)
    twin = program("p2", "def f(x):\n    return sum(range(x))  \n", 1, None, "p0")
    assert novelty.recheck(novelty.check_now(twin).vector).program_id == "p1"  # type: ignore[union-attr]
    novelty.release("p1")
    assert novelty.recheck(verdict.vector) is None  # type: ignore[arg-type]


def test_after_max_rejections_in_a_row_one_child_passes_unchecked():
    db = seeded()
    novelty = make_filter(NoveltyConfig(enabled=True, threshold=0.5, max_rejections=3), db)
    verdicts = [
        novelty.check_now(program(f"p{k}", SEED_CODE + f"# {k}\n", 0, None, "p0"))
        for k in range(1, 9)
    ]
    assert [v.novel for v in verdicts] == [False, False, False, True, False, False, False, True]
    assert "3 rejections in a row" in verdicts[3].unchecked


def test_a_judge_band_needs_a_judge_and_asks_it_for_the_close_calls():
    db = seeded()
    config = NoveltyConfig(enabled=True, threshold=0.999, judge_band=0.5)
    with pytest.raises(ValueError, match="needs a judge"):
        make_filter(config, db)
    asked: list[str] = []

    async def judge(messages, seed):
        asked.append(messages[-1]["content"])
        return "NOT NOVEL\nsame loop"

    novelty = NoveltyFilter(config, HashedEmbedder(64, 2), db, judge=judge)
    novelty.rebuild({})
    assert not novelty.checks_in_order  # a judge is a call: not at the child's turn
    close = program("p1", SEED_CODE.replace("total += i", "total += i + 0"), 0, None, "p0")
    verdict = asyncio.run(novelty.check(close, seed=7))
    assert not verdict.novel and verdict.judge == "not novel"
    assert len(asked) == 1 and "total += i + 0" in asked[0] and "total += i\n" in asked[0]
    assert novelty.stats.judged == 1 and novelty.stats.judge_rejected == 1


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[int, float | None, int]]:
    """Adds: (island, fitness or None for a failure, which earlier program is the parent)."""
    count = draw(st.integers(1, 40))
    return [
        (
            draw(st.integers(0, 2)),
            draw(st.one_of(st.none(), st.floats(0, 10, allow_nan=False))),
            draw(st.integers(0, 10_000)),
        )
        for _ in range(count)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    histories(),
    st.sampled_from([None, 3]),
    st.sampled_from([0, 5]),
    st.sampled_from(["island", "all"]),
)
def test_the_index_holds_exactly_the_valid_members_of_every_island(
    history, max_island_size, reset_interval, scope
):
    db = seeded(
        3,
        migration_interval=2,
        migration_fraction=1.0,
        max_island_size=max_island_size,
        reset_interval=reset_interval,
    )
    novelty = make_filter(NoveltyConfig(enabled=True, threshold=0.99999, scope=scope), db)
    ids = ["p0"]
    for step, (island, fitness, pick) in enumerate(history, start=1):
        parent = ids[pick % len(ids)]
        code = SEED_CODE + f"    # variant {step}\n" * (1 + step % 3) + f"x{step} = {step}\n"
        child = program(f"p{step}", code, island, fitness, parent)
        if step % 4:  # some children are added unchecked (as after a failed embedding)
            verdict = novelty.check_now(child)
            novelty.hold(child, verdict)
        events = db.add(child)
        novelty.added(child, events)
        ids.append(child.id)
        for k in range(db.num_islands):
            assert indexed(novelty, k) == valid_members(db, k), f"island {k} after {child.id}"
    assert novelty.index is not None and len(novelty.index.pending) == 0
