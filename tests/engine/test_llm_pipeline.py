"""The pipeline against a real OpenAI-compatible server: ``--proposals M`` means M
LLM calls in flight, even above ``[llm] max_concurrency`` (the client's own bound
is raised to M for the run, and saved with it), and never more than M.

Concurrency is observed at the server (the most completions it served at once),
never timed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from evolve.config import load_problem
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, start_run
from evolve.mutation.setup import resolve_llm_config, settings_for
from evolve.testing import serve_in_thread
from tests.problem_factory import write_problem

pytestmark = pytest.mark.timeout(180)


def run_with(tmp_path: Path, proposals: int | None, max_concurrency: int) -> tuple[int, dict]:
    problem = write_problem(tmp_path / "problem")
    with serve_in_thread(latency_s=0.4) as server:
        config = resolve_llm_config(
            load_problem(problem), server.model, base_url=server.base_url, api_key_env=""
        )
        assert config is not None
        config = dataclasses.replace(config, max_concurrency=max_concurrency)
        options = RunOptions(sandbox="process", mutation=settings_for(config, False, None))
        start_run(
            problem,
            tmp_path / "run",
            options,
            RunLimits(evaluations=16, concurrency=1, proposals=proposals),
        )
        peak = server.peak_in_flight
    settings = json.loads((tmp_path / "run" / "run.json").read_text())
    return peak, settings["mutation"]["llm"]


def test_proposals_above_max_concurrency_raise_the_client_bound(tmp_path: Path) -> None:
    peak, llm = run_with(tmp_path, proposals=4, max_concurrency=2)
    # Slow calls and a fast scorer: the pipeline wants all M calls out at once.
    assert peak == 4
    assert llm["max_concurrency"] == 4  # saved, so a resume keeps it


def test_max_concurrency_bounds_the_calls_when_no_proposals_are_given(tmp_path: Path) -> None:
    peak, llm = run_with(tmp_path, proposals=None, max_concurrency=3)
    assert peak == 3
    assert llm["max_concurrency"] == 3
