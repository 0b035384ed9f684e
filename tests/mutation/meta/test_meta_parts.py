"""The [meta] parts alone: the archive's bandit read as of a draw, the writers'
requests and replies, edit outcomes, and the versions MetaPrompting keeps."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.config import MetaConfig
from evolve.mutation import BudgetExhausted, Proposal
from evolve.mutation.meta import (
    NOTES_HEADING,
    ORIGINAL,
    SCRATCHPAD_MARKER,
    WRITER_MARKER,
    EditOutcome,
    MetaPrompting,
    PromptArchive,
    edit_outcome,
    read_reply,
    scratchpad_messages,
    writer_messages,
)
from evolve.mutation.meta.requests import VariantRecord
from evolve.records import Program, Status
from evolve.testing.meta_replies import meta_reply

BLOCK = "# EVOLVE-BLOCK-START\ndef f():\n    return {}\n# EVOLVE-BLOCK-END\n"


def program(pid: str, value: int, fitness: float | None) -> Program:
    status = Status.OK if fitness is not None else Status.ERROR
    return Program(id=pid, code=BLOCK.format(value), status=status, fitness=fitness, score=fitness)


# -- the archive ------------------------------------------------------------------


def test_an_untried_variant_is_chosen_first_then_the_one_that_gains():
    archive = PromptArchive("base", size=3, exploration=0.0)
    archive.add("v1", "variant one", at=10)
    assert archive.choose(random.Random(0), at=5).id == ORIGINAL  # v1 not written yet
    archive.report(ORIGINAL, 3, 0.5)
    assert archive.choose(random.Random(0), at=10).id == "v1"  # untried: infinite index
    archive.report("v1", 10, 2.0)
    archive.report(ORIGINAL, 11, 0.0)
    assert archive.choose(random.Random(0), at=12).id == "v1"  # mean 2.0 beats 0.25


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from([ORIGINAL, "v1", "v2"]), st.floats(-5, 5)), max_size=30),
    st.integers(0, 40),
    st.integers(0, 1000),
)
def test_a_choice_as_of_at_ignores_everything_observed_later(reports, at, seed):
    def archive_with(later: bool) -> PromptArchive:
        archive = PromptArchive("base", size=3, exploration=1.0)
        archive.add("v1", "one", at=0)
        archive.add("v2", "two", at=0)
        for k, (variant, gain) in enumerate(reports):
            archive.report(variant, k, gain)
        if later:  # outcomes a slower run would have seen by then, all at >= at
            for k in range(len(reports), len(reports) + 10):
                archive.report("v2", max(k, at), 100.0)
        return archive

    plain = archive_with(False).choose(random.Random(seed), at).id
    more = archive_with(True).choose(random.Random(seed), at).id
    assert plain == more


def test_a_full_archive_retires_its_worst_variant_never_the_original():
    archive = PromptArchive("base", size=2, exploration=1.0)
    archive.add("v1", "one", at=0)
    archive.report(ORIGINAL, 0, -1.0)
    archive.report("v1", 1, 3.0)
    assert archive.add("v2", "two", at=5) == "v1"  # the only one that may go
    live = {v.id for v in archive.variants.values() if v.live(5)}
    assert ORIGINAL in live and "v2" in live and len(live) == 2
    assert archive.variants["v1"].live(4)  # still there for a draw before the change
    restored = PromptArchive("base", size=2, exploration=1.0)
    restored.restore(archive.snapshot())
    assert {v.id: v.as_of(10**9) for v in restored.variants.values()} == {
        v.id: v.as_of(10**9) for v in archive.variants.values()
    }


# -- requests and replies ---------------------------------------------------------


def test_replies_lose_their_fence_and_are_cut_at_a_line():
    assert read_reply("```text\nBe brief.\nBe right.\n```", 100) == "Be brief.\nBe right."
    assert read_reply("line one\nline two\nline three", 18) == "line one\nline two"
    assert read_reply("  ", 100) is None and read_reply(None, 100) is None
    assert "```" not in (read_reply("use ```python fences", 100) or "")


def test_outcomes_say_what_happened_with_a_cut_diff():
    parent, better = program("p1", 1, 1.0), program("p2", 2, 3.0)
    improved = edit_outcome(4, parent, better, Proposal("x", "m", prompt_variant="v1"), "", 600)
    assert improved.improved and improved.gain == 2.0 and improved.variant == "v1"
    assert "-    return 1" in improved.diff and "+    return 2" in improved.diff
    failed = edit_outcome(4, parent, program("p3", 3, None), None, "", 600)
    assert failed.gain is None and failed.verdict.startswith("failed")
    rejected = edit_outcome(4, parent, None, None, "not_novel: too close", 600)
    assert rejected.verdict.startswith("rejected: not_novel")
    long = Program(id="p4", code=BLOCK.format("1\n" + "    x = 0\n" * 200), status=Status.OK)
    assert len(edit_outcome(4, parent, long, None, "", 80).diff) <= 80 + len("\n[... cut ...]")


def test_the_server_answers_both_writers_deterministically():
    outcomes = [
        EditOutcome(1, None, 1.0, "improved: score 1 -> 2", "+x"),
        EditOutcome(2, None, None, "failed (error): boom", ""),
    ]
    notes = scratchpad_messages("score (higher is better)", "", outcomes)
    assert notes[0]["content"].startswith(SCRATCHPAD_MARKER)
    first, second = meta_reply(notes), meta_reply(notes)
    assert first == second and first is not None and "1 of 2" in first
    writer = writer_messages("score", [VariantRecord("original", "Be good.", 3, 0.5)], outcomes)
    assert writer[0]["content"].startswith(WRITER_MARKER)
    reply = meta_reply(writer)
    assert reply is not None and reply.startswith("Be good.") and "Focus:" in reply
    assert meta_reply([{"role": "system", "content": "You edit code."}]) is None


# -- MetaPrompting -----------------------------------------------------------------


def run(coroutine):
    return asyncio.run(coroutine)


def test_versions_are_due_every_n_programs_and_a_draw_waits_for_its_own():
    asked: list[str] = []

    async def ask(messages, seed, purpose):
        asked.append(purpose)
        await asyncio.sleep(0.01)
        return f"note {len(asked)}"

    async def scenario():
        meta = MetaPrompting(MetaConfig(scratchpad_every=3), "BASE", "score", ask)
        parent = program("p0", 0, 0.0)
        for k in range(1, 7):
            child = program(f"p{k}", k, float(k))
            meta.observe_edit(k, parent, child, None, "")  # database grows to k + 1
        early, _ = await meta.system_for(random.Random(0), at=2)
        late, variant = await meta.system_for(random.Random(0), at=6)
        return meta, early, late, variant

    meta, early, late, variant = run(scenario())
    assert asked == ["scratchpad", "scratchpad"]  # at sizes 3 and 6
    assert early == "BASE"  # drawn before the first version was due
    assert late == f"BASE\n\n{NOTES_HEADING}\nnote 2" and variant is None
    state = meta.snapshot()
    assert state["next_notes"] == 3 and set(state["notes"]) == {"1", "2"}


def test_a_writer_that_gives_nothing_keeps_the_last_version_and_a_budget_stop_reaches_the_draw():
    replies = iter(["first notes", None])

    async def ask(messages, seed, purpose):
        return next(replies)

    async def scenario():
        meta = MetaPrompting(MetaConfig(scratchpad_every=1), "BASE", "score", ask)
        parent = program("p0", 0, 0.0)
        meta.observe_edit(0, parent, program("p1", 1, 1.0), None, "")
        meta.observe_edit(1, parent, program("p2", 2, 2.0), None, "")
        text, _ = await meta.system_for(random.Random(0), at=2)
        return text

    assert run(scenario()).endswith("first notes")

    async def broke(messages, seed, purpose):
        raise BudgetExhausted("budget")

    async def stopped():
        meta = MetaPrompting(MetaConfig(scratchpad_every=1), "BASE", "score", broke)
        meta.observe_edit(0, program("p0", 0, 0.0), program("p1", 1, 1.0), None, "")
        try:
            await meta.system_for(random.Random(0), at=1)
        finally:
            await meta.aclose()

    with pytest.raises(BudgetExhausted):
        run(stopped())


def test_meta_settings_are_checked():
    with pytest.raises(ValueError, match="prompt_every"):
        MetaConfig(prompt_every=0)
    with pytest.raises(ValueError, match="prompt_exploration"):
        MetaConfig(prompt_exploration=float("nan"))
    assert not MetaConfig(prompt_variants=1).enabled  # one prompt: nothing to choose
    assert MetaConfig(prompt_variants=2).evolves_prompts


def test_a_variant_without_children_yet_is_not_the_one_retired():
    archive = PromptArchive("base", size=3, exploration=1.0)
    archive.add("v1", "one", at=0)
    archive.report("v1", 1, 0.0)  # tried, no gain
    archive.add("v2", "two", at=2)  # untried when v3 comes
    assert archive.add("v3", "three", at=3) == "v1"


def test_a_short_or_echoed_variant_is_not_added():
    replies = iter(["OK.", "BASE PROMPT: improve the program with careful, small edits."])

    async def ask(messages, seed, purpose):
        return next(replies)

    async def scenario():
        config = MetaConfig(prompt_variants=3, prompt_every=1)
        meta = MetaPrompting(
            config, "BASE PROMPT: improve the program with careful, small edits.", "score", ask
        )
        parent = program("p0", 0, 0.0)
        meta.observe_edit(0, parent, program("p1", 1, 1.0), None, "")
        meta.observe_edit(1, parent, program("p2", 2, 2.0), None, "")
        await meta.system_for(random.Random(0), at=2)
        return meta

    meta = run(scenario())
    assert meta.archive is not None and list(meta.archive.variants) == [ORIGINAL]
