"""Runs with ``[judge]`` end to end, against the real OpenAI-compatible server
(``evolve mutator serve``), which rates each candidate deterministically from
its code (``evolve.testing.judges``): the ratings become metrics and feedback,
the calls are accounted, the objective is the scorer's unless the problem
names ``judged_score``, and a recorded run replays with the server gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from evolve import Run
from evolve.config import LLMConfig, ModelSpec
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, start_run
from evolve.errors import ConfigError
from evolve.mutation.setup import settings_for
from evolve.store import RunStore
from evolve.testing import FaultPlan, serve_in_thread
from evolve.testing.judges import judged_rating
from tests.problem_factory import TOML, write_problem

pytestmark = pytest.mark.timeout(300)

CRITERIA = """
[[judge.criteria]]
name = "simplicity"
description = "short, readable code"
weight = 0.5
"""


def judge_problem(root: Path, objective: str = "score") -> Path:
    toml = TOML.replace('metric = "score"', f'metric = "{objective}"')
    table = '\n[judge]\nbase_metric = "score"\n' if objective == "judged_score" else ""
    return write_problem(root, toml + table + CRITERIA)


def llm_config(url: str) -> LLMConfig:
    model = ModelSpec(name="evolve-offline", base_url=url, api_key_env="", price_input_per_mtok=1.0)
    return LLMConfig(models=(model,), timeout_s=10.0, max_retries=0)


def llm_run(
    problem: Path, run_dir: Path, config: LLMConfig, record: bool = False, replay: str | None = None
) -> None:
    options = RunOptions(
        sandbox="process",
        seed=4,
        concurrency=2,
        deterministic=True,
        mutation=settings_for(config, record, replay),
    )
    start_run(problem, run_dir, options, RunLimits(evaluations=8, concurrency=2, ordered=True))


def judged_programs(run_dir: Path) -> pd.DataFrame:
    programs = Run.open(run_dir).programs
    return programs[(programs["status"] == "ok") & programs["duplicate_of"].isna()]


def calls(run_dir: Path) -> list[dict[str, Any]]:
    return RunStore.open(run_dir).read_table("llm_calls").to_pylist()


def test_an_llm_run_judges_every_passing_candidate_through_the_server(tmp_path):
    problem = judge_problem(tmp_path / "tiny")
    run_dir = tmp_path / "run"
    with serve_in_thread(host="127.0.0.1") as server:
        llm_run(problem, run_dir, llm_config(server.base_url))
    run = Run.open(run_dir)
    ok = judged_programs(run_dir)
    assert len(ok) >= 3, "the seed and some children must pass the scorer"
    for pid, row in ok.iterrows():
        rating = judged_rating("simplicity", run.code(str(pid)))
        assert row["metric.judge.simplicity"] == pytest.approx(rating)
        assert row["metric.judged_score"] == pytest.approx(row["metric.score"] + 0.5 * rating)
        assert row["score"] == row["metric.score"]  # the objective is the scorer's
        note = json.loads(row["artifacts"])["judge"]
        assert note.startswith("LLM judge: simplicity=") and "non-empty lines" in note
    judge_calls = [c for c in calls(run_dir) if c["edit_kind"] == "metric_judge"]
    assert len(judge_calls) == len(ok)  # one per evaluated candidate, the seed's included
    for call in judge_calls:
        assert call["error"] is None and call["prompt_tokens"] > 0 and call["cost_usd"] > 0
        assert "[evolve metric judge]" in call["messages"]
    # The judge's note reaches the next prompts, as feedback on their parent.
    proposals = [c for c in calls(run_dir) if c["edit_kind"] in ("diff", "rewrite", "crossover")]
    assert any("LLM judge: simplicity=" in (c["messages"] or "") for c in proposals)
    costs = Run.open(run_dir).llm_calls
    assert costs[costs["edit_kind"] == "metric_judge"]["cost_usd"].sum() > 0


def test_judged_score_as_the_objective_is_what_the_run_ranks_by(tmp_path):
    problem = judge_problem(tmp_path / "tiny", objective="judged_score")
    run_dir = tmp_path / "run"
    with serve_in_thread(host="127.0.0.1") as server:
        llm_run(problem, run_dir, llm_config(server.base_url))
    ok = judged_programs(run_dir)
    assert len(ok) >= 3
    assert (ok["score"] == ok["metric.judged_score"]).all()
    assert (ok["fitness"] == ok["metric.judged_score"]).all()  # maximised
    assert (ok["score"] > ok["metric.score"]).all()  # the ratings count
    best = Run.open(run_dir).best()
    assert best.index[0] == ok["metric.judged_score"].idxmax()


def test_a_recorded_run_replays_its_judgements_with_the_server_gone(tmp_path):
    problem = judge_problem(tmp_path / "tiny")
    recorded, replayed = tmp_path / "recorded", tmp_path / "replayed"
    with serve_in_thread(host="127.0.0.1") as server:
        config = llm_config(server.base_url)
        llm_run(problem, recorded, config, record=True)
    assert '\\"simplicity\\"' in (recorded / "llm_record.jsonl").read_text()
    llm_run(problem, replayed, config, replay=str(recorded))
    columns = ["code_hash", "status", "score", "metric.judge.simplicity", "metric.judged_score"]
    before = judged_programs(recorded)[columns]
    after = judged_programs(replayed)[columns]
    assert len(before) >= 3
    pd.testing.assert_frame_equal(before, after)
    judge_calls = [c for c in calls(replayed) if c["edit_kind"] == "metric_judge"]
    assert len(judge_calls) == len(after) and all(c["replayed"] for c in judge_calls)


def test_a_failed_judge_call_leaves_the_candidate_scored_and_says_why(tmp_path):
    problem = judge_problem(tmp_path / "tiny")
    run_dir = tmp_path / "run"
    # request 1 is the start-up check, request 2 the seed's judge call: a 503, no retry
    with serve_in_thread(host="127.0.0.1", faults=FaultPlan(script=("ok", "503"))) as server:
        llm_run(problem, run_dir, llm_config(server.base_url))
    programs = Run.open(run_dir).programs
    seed = programs.iloc[0]
    assert seed["status"] == "ok" and seed["score"] == seed["metric.score"]
    assert pd.isna(seed["metric.judge.simplicity"]) and pd.isna(seed["metric.judged_score"])
    assert json.loads(seed["artifacts"])["judge"] == "not judged: the judge call got no reply"
    judge_calls = [c for c in calls(run_dir) if c["edit_kind"] == "metric_judge"]
    assert judge_calls[0]["error"] is not None
    assert judged_programs(run_dir)["metric.judge.simplicity"].notna().sum() >= 2  # the rest


def test_an_offline_run_with_a_judge_is_refused(tmp_path):
    problem = judge_problem(tmp_path / "tiny")
    options = RunOptions(sandbox="process")
    with pytest.raises(ConfigError, match=r"\[judge\] of .*problem.toml.*need an LLM run"):
        start_run(problem, tmp_path / "run", options, RunLimits(evaluations=2))
