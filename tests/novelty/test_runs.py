"""Runs with ``[novelty]`` end to end: offline (hashed embedder, deterministic
and pipelined, resumed), and an LLM run whose embeddings and novelty judge go
through the real OpenAI-compatible server (``evolve mutator serve``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evolve import Run
from evolve.analysis.traces import trace_records
from evolve.config import LLMConfig, ModelSpec
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, resume_run, start_run
from evolve.errors import ConfigError, UsageError
from evolve.mutation.setup import settings_for
from evolve.store import RunStore
from evolve.testing import serve_in_thread
from tests.problem_factory import TOML, write_problem

pytestmark = pytest.mark.timeout(300)


def novelty_problem(root: Path, table: str) -> Path:
    return write_problem(root, TOML + "\n[novelty]\nenabled = true\n" + table)


def rejections(run_dir: Path) -> list[dict[str, Any]]:
    events = RunStore.open(run_dir).read_table("events").to_pylist()
    payloads = [json.loads(e["payload"]) for e in events if e["kind"] == "edit_rejected"]
    return [p for p in payloads if p.get("kind") == "not_novel"]


def lineage(run_dir: Path) -> list[tuple]:
    programs = Run.open(run_dir).programs
    return list(zip(programs["id"], programs["code_hash"], programs["parent_id"], strict=True))


def offline(problem: Path, run_dir: Path, evaluations: int, deterministic: bool = True) -> None:
    options = RunOptions(sandbox="process", deterministic=deterministic, seed=5, concurrency=2)
    limits = RunLimits(evaluations=evaluations, concurrency=2, ordered=deterministic)
    start_run(problem, run_dir, options, limits)


def test_offline_novelty_rejects_before_scoring_records_why_and_replays_exactly(tmp_path):
    problem = novelty_problem(tmp_path / "tiny", "threshold = 0.8\n")
    offline(problem, tmp_path / "a", 12)
    offline(problem, tmp_path / "b", 12)
    assert lineage(tmp_path / "a") == lineage(tmp_path / "b")  # the same for any timing
    found = rejections(tmp_path / "a")
    assert found, "a threshold of 0.8 on one-line edits must reject some children"
    run = Run.open(tmp_path / "a")
    evaluated = set(run.programs["id"])
    for rejection in found:
        assert rejection["similarity"] >= 0.8
        assert rejection["nearest_id"] in evaluated
        assert "not novel: cosine similarity" in rejection["reason"]
    assert run.programs["duplicate_of"].isna().sum() == 13  # seed + 12: the slots proposed again
    table = run.embeddings
    assert table.attrs["embedder"] == "hashed" and table.attrs["dimensions"] == 256
    assert (table["kind"] == "rejected").sum() == len(found)
    kept = table[table["kind"] == "program"]
    assert set(kept["program_id"]) <= evaluated and kept["program_id"].is_unique
    ok = set(run.programs["id"][run.programs["status"] == "ok"])
    assert kept[kept["program_id"].isin(ok)]["score"].notna().all()
    assert kept[~kept["program_id"].isin(ok)]["score"].isna().all()  # failed: no score
    assert run.embedding_vectors.shape == (len(table), 256)
    assert run.embedding_projection().shape == (len(table), 2)
    run.plot_embeddings()


def test_a_resumed_novelty_run_keeps_its_embeddings_and_adds_to_them(tmp_path):
    problem = novelty_problem(tmp_path / "tiny", "threshold = 0.8\n")
    run_dir = tmp_path / "run"
    offline(problem, run_dir, 6, deterministic=False)
    before = Run.open(run_dir).embeddings
    resume_run(run_dir, RunLimits(evaluations=6, concurrency=2))
    after = Run.open(run_dir).embeddings
    assert len(after) > len(before)
    assert list(after["program_id"][: len(before)]) == list(before["program_id"])
    kept = after[after["kind"] == "program"]["program_id"]
    assert kept.is_unique  # programs already embedded are not embedded again


def test_novelty_settings_that_cannot_work_are_refused_before_the_run(tmp_path):
    cases = [
        ('embedder = "llm"\n', ConfigError, "needs an LLM run"),
        ("judge_band = 0.05\n", ConfigError, "LLM novelty judge"),
        ("threshold = 1.5\n", ConfigError, "threshold must be in"),
        ("treshold = 0.9\n", ConfigError, "treshold"),
    ]
    for k, (table, error, message) in enumerate(cases):
        problem = novelty_problem(tmp_path / f"p{k}", table)
        with pytest.raises(error, match=message):
            offline(problem, tmp_path / f"r{k}", 2)


def llm_config(url: str, *, embedding: bool) -> LLMConfig:
    common: dict[str, Any] = {"base_url": url, "api_key_env": ""}
    return LLMConfig(
        models=(ModelSpec(name="evolve-offline", price_input_per_mtok=1.0, **common),),
        embedding=ModelSpec(name="evolve-embed", price_input_per_mtok=0.1, **common)
        if embedding
        else None,
        timeout_s=10.0,
        max_retries=0,
    )


def test_an_llm_run_embeds_and_judges_through_the_server(tmp_path):
    table = 'embedder = "llm"\nthreshold = 0.97\njudge_band = 0.6\n'
    problem = novelty_problem(tmp_path / "tiny", table)
    run_dir = tmp_path / "run"
    with serve_in_thread(host="127.0.0.1", vary=True) as server:
        mutation = settings_for(llm_config(server.base_url, embedding=True), True, None)
        options = RunOptions(sandbox="process", seed=2, concurrency=2, mutation=mutation)
        start_run(problem, run_dir, options, RunLimits(evaluations=10, concurrency=2))
        counts = dict(server.stats)
    calls = RunStore.open(run_dir).read_table("llm_calls").to_pylist()
    kinds = [c["edit_kind"] for c in calls]
    assert "embedding" in kinds and "novelty_judge" in kinds
    assert counts.get("embeddings", 0) == kinds.count("embedding")
    for call in calls:
        if call["edit_kind"] in ("embedding", "novelty_judge"):
            assert call["error"] is None and call["prompt_tokens"] > 0 and call["cost_usd"] > 0
    judged = [r for r in rejections(run_dir) if r.get("judge") == "not novel"]
    assert judged, "the server's judge rejects a constant tweak: some must be rejected"
    for rejection in judged:
        assert "novelty judge" in rejection["reason"]
    embeddings = Run.open(run_dir).embeddings
    assert embeddings.attrs["embedder"] == "llm:evolve-embed"
    assert embeddings.attrs["dimensions"] == 256
    # The record keeps the judge's answers, for audit.
    record = (run_dir / "llm_record.jsonl").read_text()
    assert "NOT NOVEL" in record
    # A trace export holds the proposals only, not the embedding and judge calls.
    traces, _ = trace_records(run_dir)
    assert traces and {t["metadata"]["edit_kind"] for t in traces} <= {
        "diff",
        "rewrite",
        "crossover",
    }


def test_llm_embeddings_need_an_embedding_model_and_no_deterministic_schedule(tmp_path):
    problem = novelty_problem(tmp_path / "tiny", 'embedder = "llm"\n')
    with serve_in_thread(host="127.0.0.1") as server:
        mutation = settings_for(llm_config(server.base_url, embedding=False), False, None)
        options = RunOptions(sandbox="process", mutation=mutation)
        with pytest.raises(ConfigError, match=r"\[llm.embedding\]"):
            start_run(problem, tmp_path / "a", options, RunLimits(evaluations=2))
        mutation = settings_for(llm_config(server.base_url, embedding=True), False, None)
        options = RunOptions(sandbox="process", mutation=mutation, deterministic=True)
        with pytest.raises(UsageError, match="--deterministic"):
            start_run(problem, tmp_path / "b", options, RunLimits(evaluations=2, ordered=True))
