"""An LLM run end to end through the CLI, against the real OpenAI-compatible
server (the offline mutator behind it): two models, 30% of calls failing,
per-call tokens and cost, a budget stop, and a replay that reproduces the
lineage exactly with the server gone."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evolve.testing import FaultPlan, serve_in_thread
from tests.problem_factory import write_problem

REPO = Path(__file__).resolve().parents[2]

LLM_TOML = textwrap.dedent(
    """\
    [llm]
    timeout_s = 0.5
    max_retries = 8
    backoff_base_s = 0.01
    backoff_max_s = 0.1
    budget_usd = {budget}
    max_concurrency = 2

    [[llm.models]]
    name = "evolve-offline"
    label = "cheap"
    base_url = "{url}"
    api_key_env = ""
    weight = 3
    price_input_per_mtok = 1.0
    price_output_per_mtok = 2.0

    [[llm.models]]
    name = "evolve-offline"
    label = "pricey"
    base_url = "{url}"
    api_key_env = ""
    weight = 1
    price_input_per_mtok = 3.0
    price_output_per_mtok = 6.0
    """
)


def evolve(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "evolve.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"evolve {args} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def lineage(run_dir: Path) -> list[tuple]:
    rows = pq.ParquetDataset(run_dir / "programs").read().to_pylist()
    rows.sort(key=lambda r: r["iteration"])
    return [
        (r["id"], tuple(r["parent_ids"]), r["code_hash"], r["score"], r["status"], r["model"])
        for r in rows
        if r["duplicate_of"] is None
    ]


@pytest.mark.slow
def test_two_models_faults_budget_and_exact_replay(tmp_path):
    problem = write_problem(tmp_path / "tiny")
    budget = 0.04
    # The first two requests (the start-up check of each model) succeed; then
    # 30% of calls fail: 429s, 5xx, hangs, empty or unusable replies.
    faults = FaultPlan(fail_rate=0.3, script=("ok", "ok"), retry_after_s=0.05, hang_s=1.0, seed=7)
    with serve_in_thread(seed=1, faults=faults) as server:
        config = tmp_path / "llm.toml"
        config.write_text(LLM_TOML.format(url=server.base_url, budget=budget))
        recorded = tmp_path / "recorded"
        evolve(
            "run",
            str(problem),
            "--model",
            "llm",
            "--llm-config",
            str(config),
            "--record",
            "--deterministic",
            "--concurrency",
            "2",
            "--seed",
            "4",
            "--iterations",
            "1000",
            "--out",
            str(recorded),
        )
        stats = dict(server.stats)
    faults_served = sum(v for k, v in stats.items() if k not in ("ok", "no_edit"))
    assert faults_served >= 5, stats

    summary = json.loads(evolve("show", str(recorded), "--json").stdout)
    assert summary["stop_reason"] == "budget"
    llm = summary["llm"]
    assert set(llm["by_model"]) == {"cheap", "pricey"}
    assert llm["by_model"]["cheap"]["calls"] > llm["by_model"]["pricey"]["calls"]
    calls = pq.ParquetDataset(recorded / "llm_calls").read().to_pylist()
    ok_calls = [c for c in calls if c["error"] is None]
    assert ok_calls and all(c["prompt_tokens"] > 0 and c["cost_usd"] > 0 for c in ok_calls)
    assert any(c["retries"] > 0 for c in calls)
    max_call = max(c["cost_usd"] for c in calls)
    assert budget <= llm["cost_usd"] <= budget + 2 * max_call
    assert summary["rejected_edits"] >= 1  # garbage / bad_search / outside_block replies

    # Replay with the server closed: the same lineage, exactly.
    original = lineage(recorded)
    children = len(original) - 1
    replayed_dir = tmp_path / "replayed"
    evolve(
        "run",
        str(problem),
        "--model",
        "llm",
        "--llm-config",
        str(config),
        "--replay",
        str(recorded),
        "--deterministic",
        "--concurrency",
        "2",
        "--seed",
        "4",
        "--budget-usd",
        "1000",
        "--iterations",
        str(children),
        "--out",
        str(replayed_dir),
    )
    assert lineage(replayed_dir) == original


def test_wrong_api_key_fails_at_start_up_without_a_run(tmp_path, monkeypatch):
    problem = write_problem(tmp_path / "tiny")
    with serve_in_thread(api_key="right-key") as server:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "evolve.cli",
                "run",
                str(problem),
                "--model",
                "evolve-offline",
                "--base-url",
                server.base_url,
                "--api-key-env",
                "EVOLVE_TEST_KEY",
                "--out",
                str(tmp_path / "run"),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "EVOLVE_TEST_KEY": "wrong-key"},
        )
    assert proc.returncode == 2
    assert "EVOLVE_TEST_KEY" in proc.stderr and "401" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_unset_key_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("EVOLVE_UNSET_KEY", raising=False)
    problem = write_problem(tmp_path / "tiny")
    proc = evolve(
        "run",
        str(problem),
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--api-key-env",
        "EVOLVE_UNSET_KEY",
        "--out",
        str(tmp_path / "run"),
        check=False,
    )
    assert proc.returncode == 2
    assert "EVOLVE_UNSET_KEY is not set" in proc.stderr
