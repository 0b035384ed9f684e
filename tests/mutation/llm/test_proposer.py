"""LLMProposer end to end: real server, real openai client, real edit engine."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from evolve.config import EditMix
from evolve.edits import EditError, apply_proposal
from evolve.mutation import BudgetExhausted, MutationError, Proposal
from evolve.mutation.llm import LLMCallFailed, LLMFatalError, LLMProposal, LLMProposer
from evolve.mutation.prompts import PromptBuilder
from tests.mutation.llm.helpers import INSPIRATION, PARENT, config, model, run

DIFF_ONLY = EditMix(diff=1.0, rewrite=0.0, crossover=0.0)


async def propose_all(cfg, seeds, inspirations=(), state=None):
    """Proposals for ``seeds`` in order, and the proposer's drained calls."""
    proposer = LLMProposer.create(cfg, PromptBuilder("You improve programs."))
    if state is not None:
        proposer.restore(state)
    try:
        proposals = [await proposer.propose(PARENT, list(inspirations), s) for s in seeds]
        return proposals, proposer.drain_calls(), proposer
    finally:
        await proposer.aclose()


def test_a_proposal_from_the_server_applies_to_the_parent(server):
    srv = server()
    (proposal,), calls, proposer = run(propose_all(config(model(srv), edit_mix=DIFF_ONLY), [11]))
    assert isinstance(proposal, Proposal) and proposal.edit_kind == "diff"
    child = apply_proposal(PARENT.code, proposal)
    assert child != PARENT.code
    assert [c.id for c in calls] == [proposal.llm_call_id]
    assert proposal.model == srv.model and proposal.prompt_hash == calls[0].prompt_hash
    assert proposer.calls == []  # drained
    assert proposer.budget.calls == 1 and proposer.budget.spent_tokens == calls[0].total_tokens


def test_the_same_seeds_give_the_same_proposals(server):
    srv = server()
    cfg = config(model(srv))
    first, _, _ = run(propose_all(cfg, range(6), [INSPIRATION]))
    second, _, _ = run(propose_all(cfg, range(6), [INSPIRATION]))
    assert [(p.text, p.edit_kind, p.model) for p in first] == [
        (p.text, p.edit_kind, p.model) for p in second
    ]
    assert len({p.text for p in first}) > 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ("empty_choices", "empty_reply"),
        ("garbage", "no_blocks"),
        ("bad_search", "search_not_found"),
        ("outside_block", "outside_evolve_block"),
    ],
)
def test_unusable_replies_become_edit_rejections_with_a_reason(server, fault, kind):
    srv = server(script=[fault])
    (proposal,), calls, _ = run(propose_all(config(model(srv), edit_mix=DIFF_ONLY), [1]))
    assert calls[0].error is None  # the HTTP call itself succeeded
    with pytest.raises(EditError) as err:
        apply_proposal(PARENT.code, proposal)
    assert err.value.kind == kind and err.value.reason


def test_a_proposal_whose_retries_run_out_fails_cleanly_with_its_call_recorded(server):
    srv = server(script=["503"] * 3)
    cfg = config(model(srv), max_retries=2)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        try:
            with pytest.raises(LLMCallFailed) as err:
                await proposer.propose(PARENT, [], 0)
            later = await proposer.propose(PARENT, [], 1)  # the run goes on
            return err.value, proposer.drain_calls(), later
        finally:
            await proposer.aclose()

    error, calls, later = run(scenario())
    assert isinstance(error, MutationError)  # the controller already catches these
    assert error.call_id == calls[0].id and "HTTP 503" in str(error)
    assert calls[0].retries == 2 and calls[0].error.startswith("gave up after 3 attempts")
    assert calls[1].error is None and later.text


def test_a_wrong_key_mid_run_is_fatal(server, monkeypatch):
    srv = server(api_key="right")
    monkeypatch.setenv("EVOLVE_TEST_KEY", "wrong")
    cfg = config(model(srv, api_key_env="EVOLVE_TEST_KEY"))
    with pytest.raises(LLMFatalError, match=r"EVOLVE_TEST_KEY.*HTTP 401"):
        run(propose_all(cfg, [0]))


def test_a_dollar_budget_stops_after_the_calls_it_allows(server):
    srv = server()
    spec = model(srv, price_input_per_mtok=8.0, price_output_per_mtok=16.0)
    cfg = config(spec, budget_usd=0.01)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        try:
            for seed in range(100):
                try:
                    await proposer.propose(PARENT, [], seed)
                except BudgetExhausted as exc:
                    return exc, proposer
            raise AssertionError("the budget never ran out")
        finally:
            await proposer.aclose()

    exc, proposer = run(scenario())
    costs = [c.cost_usd for c in proposer.drain_calls()]
    assert 2 <= len(costs) < 20
    # Every call started while the spend was under the limit, and no more did.
    assert sum(costs[:-1]) < 0.01 <= sum(costs)
    assert proposer.budget.exhausted and "$0.0100" in str(exc)
    assert proposer.budget.spent_usd == pytest.approx(sum(costs))


def test_a_token_budget_stops_too(server):
    srv = server()
    cfg = config(model(srv), budget_tokens=1)
    with pytest.raises(BudgetExhausted, match="token budget"):
        run(propose_all(cfg, [0, 1]))


def test_a_crossover_shows_and_names_its_second_parent(server):
    srv = server()
    mix = EditMix(diff=0.0, rewrite=0.0, crossover=1.0)
    cfg = config(model(srv), edit_mix=mix)
    (proposal,), _, _ = run(propose_all(cfg, [3], [INSPIRATION]))
    assert isinstance(proposal, LLMProposal)
    assert proposal.edit_kind == "crossover" and proposal.extra_parent_ids == (INSPIRATION.id,)
    # The offline server answers every prompt with a diff; apply_proposal accepts that.
    assert apply_proposal(PARENT.code, proposal) != PARENT.code
    (alone,), _, _ = run(propose_all(cfg, [3]))
    assert alone.edit_kind == "diff" and alone.extra_parent_ids == ()


def test_two_models_are_chosen_by_weight(server):
    srv = server()
    heavy = model(srv, label="heavy", weight=3.0)
    light = model(srv, label="light", weight=1.0)
    proposals, calls, _ = run(propose_all(config(heavy, light), range(120)))
    share = sum(p.model == "heavy" for p in proposals) / len(proposals)
    assert 0.62 <= share <= 0.88
    assert [c.model for c in calls] == [p.model for p in proposals]


def test_feedback_steers_the_ucb_bandit_and_state_survives_json(server):
    srv = server()
    good = model(srv, label="good")
    poor = model(srv, label="poor")
    cfg = config(good, poor, selection="ucb", ucb_exploration=0.2)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        try:
            for seed in range(60):
                proposal = await proposer.propose(PARENT, [], seed)
                gain = 0.2 if proposal.model == "good" else 0.01
                proposer.feedback(proposal, PARENT.fitness, PARENT.fitness + gain)
            return proposer.snapshot()
        finally:
            await proposer.aclose()

    state = json.loads(json.dumps(run(scenario())))
    arms = state["ensemble"]["arms"]
    assert arms["good"]["pulls"] > 3 * arms["poor"]["pulls"]
    assert state["budget"]["calls"] == 60
    _, _, restored = run(propose_all(cfg, [], state=state))
    assert restored.snapshot() == state


def test_feedback_for_a_rejected_or_worse_child_gives_no_reward(server):
    srv = server()
    cfg = config(model(srv))
    proposal = LLMProposal(text="", model=srv.model)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        proposer.feedback(proposal, 0.5, None)
        proposer.feedback(proposal, 0.5, 0.4)
        await proposer.aclose()
        return proposer.ensemble.arms[srv.model]

    arm = run(scenario())
    assert arm.reports == 2 and arm.improvement == 0.0


def test_calls_in_flight_never_exceed_max_concurrency(server):
    srv = server(latency_s=0.2)
    cfg = config(model(srv, label="a"), model(srv, label="b"), max_concurrency=2)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        try:
            started = time.monotonic()
            await asyncio.gather(*(proposer.propose(PARENT, [], s) for s in range(6)))
            return time.monotonic() - started
        finally:
            await proposer.aclose()

    elapsed = run(scenario())
    assert elapsed >= 3 * 0.2  # 6 calls of 0.2 s, 2 at a time, across both models
    assert srv.stats["ok"] == 6


def test_concurrent_spend_overshoots_by_at_most_the_calls_in_flight(server):
    srv = server(latency_s=0.05)
    spec = model(srv, price_input_per_mtok=8.0, price_output_per_mtok=16.0)
    cfg = config(spec, budget_usd=0.01, max_concurrency=3)

    async def scenario():
        proposer = LLMProposer.create(cfg, PromptBuilder("system"))
        try:
            results = await asyncio.gather(
                *(proposer.propose(PARENT, [], s) for s in range(40)), return_exceptions=True
            )
            return results, proposer.drain_calls()
        finally:
            await proposer.aclose()

    results, calls = run(scenario())
    assert any(isinstance(r, BudgetExhausted) for r in results)
    costs = [c.cost_usd for c in calls]
    needed = next(i + 1 for i in range(len(costs)) if sum(costs[: i + 1]) >= 0.01)
    assert needed <= len(costs) <= needed + cfg.max_concurrency - 1
