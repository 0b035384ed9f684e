"""[meta] end to end against the real OpenAI-compatible server: evolved system
prompts and the scratchpad are written, accounted, recorded, shown in later
prompts, survive a resume, and a replay with the server gone rebuilds the same
run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolve import Run
from evolve.config import LLMConfig, ModelSpec
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, resume_run, start_run
from evolve.errors import ConfigError
from evolve.mutation.meta import NOTES_HEADING, SCRATCHPAD_CALL, WRITER_CALL
from evolve.mutation.setup import settings_for
from evolve.store import RunStore
from evolve.testing import serve_in_thread
from tests.problem_factory import TOML, write_problem

pytestmark = pytest.mark.timeout(300)

META = "\n[meta]\nprompt_variants = 3\nprompt_every = 4\nscratchpad_every = 3\n"


def llm(url: str) -> LLMConfig:
    return LLMConfig(
        models=(
            ModelSpec(
                name="evolve-offline", base_url=url, api_key_env="", price_input_per_mtok=1.0
            ),
        ),
        timeout_s=10.0,
        max_retries=0,
    )


def calls(run_dir: Path) -> list[dict[str, Any]]:
    return RunStore.open(run_dir).read_table("llm_calls").to_pylist()


def lineage(run_dir: Path) -> list[tuple]:
    programs = Run.open(run_dir).programs
    return list(zip(programs["id"], programs["code_hash"], programs["score"], strict=True))


def deterministic(problem: Path, run_dir: Path, mutation, evaluations: int) -> None:
    options = RunOptions(
        sandbox="process", seed=4, concurrency=2, deterministic=True, mutation=mutation
    )
    start_run(problem, run_dir, options, RunLimits(evaluations, concurrency=2, ordered=True))


def test_evolved_prompts_are_written_used_recorded_and_replayed(tmp_path):
    problem = write_problem(tmp_path / "tiny", TOML + META)
    run_dir = tmp_path / "run"
    with serve_in_thread(host="127.0.0.1") as server:
        deterministic(problem, run_dir, settings_for(llm(server.base_url), True, None), 14)
    rows = calls(run_dir)
    writers = [r for r in rows if r["edit_kind"] == WRITER_CALL]
    notes = [r for r in rows if r["edit_kind"] == SCRATCHPAD_CALL]
    assert len(writers) == 14 // 4 and len(notes) == 14 // 3  # one call per N programs
    for row in writers + notes:
        assert row["error"] is None and row["cost_usd"] > 0 and row["completion"]
    proposals = [r for r in rows if r["edit_kind"] in ("diff", "rewrite", "crossover")]
    variants = {r["prompt_variant"] for r in proposals}
    assert "original" in variants and variants & {"v1", "v2", "v3"}
    assert all(r["prompt_variant"] for r in proposals)  # every proposal names its variant
    later = [json.loads(r["messages"])[0]["content"] for r in proposals[-3:]]
    assert any(NOTES_HEADING in system for system in later)
    state = RunStore.open(run_dir).load_checkpoint(database=False)
    assert state is not None and state["proposer"]["meta"]["next_notes"] >= 2
    table = Run.open(run_dir).prompt_variants
    assert table["id"].iloc[0] == "original" and set(variants) <= set(table["id"])
    assert table["proposals"].sum() == len(proposals)
    # The server is gone: the record answers every call, the lineage is the same.
    replay = tmp_path / "replay"
    deterministic(
        problem, replay, settings_for(llm("http://127.0.0.1:9/v1"), False, str(run_dir)), 14
    )
    assert lineage(replay) == lineage(run_dir)
    replayed = calls(replay)
    assert [r["prompt_variant"] for r in replayed if r["edit_kind"] == "diff"] == [
        r["prompt_variant"] for r in proposals if r["edit_kind"] == "diff"
    ]


def test_a_resumed_run_keeps_its_variants_and_notes(tmp_path):
    problem = write_problem(tmp_path / "tiny", TOML + META)
    run_dir = tmp_path / "run"
    with serve_in_thread(host="127.0.0.1") as server:
        mutation = settings_for(llm(server.base_url), False, None)
        options = RunOptions(sandbox="process", seed=1, concurrency=2, mutation=mutation)
        start_run(problem, run_dir, options, RunLimits(evaluations=9, concurrency=2))
        before = RunStore.open(run_dir).load_checkpoint(database=False)["proposer"]["meta"]
        resume_run(run_dir, RunLimits(evaluations=8, concurrency=2))
    after = RunStore.open(run_dir).load_checkpoint(database=False)["proposer"]["meta"]
    assert after["next_notes"] > before["next_notes"]
    kept = {v["id"] for v in before["variants"]}
    assert kept <= {v["id"] for v in after["variants"]}
    for key, value in before["notes"].items():
        assert after["notes"][key] == value


def test_meta_needs_an_llm_and_a_known_model(tmp_path):
    problem = write_problem(tmp_path / "tiny", TOML + META)
    with pytest.raises(ConfigError, match=r"\[meta\].*--model llm"):
        start_run(problem, tmp_path / "a", RunOptions(sandbox="process"), RunLimits(2))
    wrong = write_problem(tmp_path / "wrong", TOML + META + 'model = "nope"\n')
    with serve_in_thread(host="127.0.0.1") as server:
        options = RunOptions(
            sandbox="process", mutation=settings_for(llm(server.base_url), False, None)
        )
        with pytest.raises(ConfigError, match="'nope' is not a model"):
            start_run(wrong, tmp_path / "b", options, RunLimits(2))
    bad = write_problem(tmp_path / "bad", TOML + "\n[meta]\nscratchpad_every = -1\n")
    with pytest.raises(ConfigError, match="scratchpad_every"):
        start_run(bad, tmp_path / "c", RunOptions(sandbox="process"), RunLimits(2))
