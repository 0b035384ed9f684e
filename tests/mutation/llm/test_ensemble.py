"""Model choice: weights, the UCB1 bandit over improvement per dollar, and resume."""

from __future__ import annotations

import json
import random

from evolve.config import EditMix, ModelSpec
from evolve.mutation.llm import Ensemble, choose_edit_kind


def specs(*weights: float) -> list[ModelSpec]:
    return [ModelSpec(name=f"m{i}", weight=w) for i, w in enumerate(weights)]


def test_weighted_choice_follows_the_weights():
    ensemble = Ensemble(specs(3.0, 1.0))
    picks = [ensemble.choose(random.Random(seed)).key for seed in range(4000)]
    assert 0.72 <= picks.count("m0") / len(picks) <= 0.78
    assert ensemble.arms["m0"].pulls + ensemble.arms["m1"].pulls == 4000


def test_the_choice_is_a_function_of_the_proposal_seed():
    a, b = Ensemble(specs(1, 1, 1)), Ensemble(specs(1, 1, 1))
    assert [a.choose(random.Random(s)).key for s in range(50)] == [
        b.choose(random.Random(s)).key for s in range(50)
    ]


def simulate(ensemble: Ensemble, cost: dict[str, float], gain: dict[str, float], rounds: int):
    """Choose, pay and reward ``rounds`` times; the models chosen, in order."""
    rng = random.Random(0)
    chosen = []
    for _ in range(rounds):
        spec = ensemble.choose(rng)
        ensemble.charge(spec.key, cost[spec.key])
        ensemble.report(spec.key, gain[spec.key] * rng.uniform(0.5, 1.5))
        chosen.append(spec.key)
    return chosen


def test_ucb_tries_every_model_then_prefers_more_improvement_per_dollar():
    ensemble = Ensemble(specs(1, 1, 1), selection="ucb", exploration=0.5)
    # m1 improves most per call, but m0 improves most per dollar.
    chosen = simulate(
        ensemble,
        cost={"m0": 0.001, "m1": 0.02, "m2": 0.001},
        gain={"m0": 0.01, "m1": 0.05, "m2": 0.001},
        rounds=400,
    )
    assert sorted(chosen[:3]) == ["m0", "m1", "m2"]
    pulls = {k: chosen.count(k) for k in ensemble.arms}
    assert pulls["m0"] > 2 * pulls["m1"] and pulls["m0"] > 2 * pulls["m2"]


def test_ucb_with_free_models_ranks_by_improvement_per_call():
    ensemble = Ensemble(specs(1, 1), selection="ucb", exploration=0.5)
    chosen = simulate(ensemble, cost={"m0": 0, "m1": 0}, gain={"m0": 0.01, "m1": 0.1}, rounds=300)
    assert chosen.count("m1") > 3 * chosen.count("m0")


def test_bandit_state_round_trips_through_json_and_tolerates_config_changes():
    ensemble = Ensemble(specs(1, 1), selection="ucb")
    simulate(ensemble, cost={"m0": 0.01, "m1": 0.01}, gain={"m0": 1, "m1": 0}, rounds=20)
    state = json.loads(json.dumps(ensemble.snapshot()))
    resumed = Ensemble(specs(1, 1), selection="ucb")
    resumed.restore(state)
    assert resumed.snapshot() == ensemble.snapshot()
    assert [resumed.choose(random.Random(s)).key for s in range(10)] == [
        ensemble.choose(random.Random(s)).key for s in range(10)
    ]
    changed = Ensemble([ModelSpec(name="m1"), ModelSpec(name="new")], selection="ucb")
    changed.restore(state)
    assert changed.arms["m1"].pulls == state["arms"]["m1"]["pulls"]
    assert changed.arms["new"].pulls == 0 and "m0" not in changed.arms


def test_edit_kinds_follow_the_mix_and_crossover_needs_a_second_parent():
    mix = EditMix(diff=0.5, rewrite=0.3, crossover=0.2)
    kinds = [choose_edit_kind(random.Random(s), mix, has_partner=True) for s in range(3000)]
    assert 0.45 <= kinds.count("diff") / 3000 <= 0.55
    assert 0.16 <= kinds.count("crossover") / 3000 <= 0.24
    alone = {choose_edit_kind(random.Random(s), mix, has_partner=False) for s in range(300)}
    assert alone == {"diff", "rewrite"}
