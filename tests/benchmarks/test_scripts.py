"""The benchmark scripts stay runnable, and the OpenEvolve side scores what evolve scores.

Timings are never asserted here (benchmarks/ prints them); these tests only keep
the scripts importable and check that the files generated for OpenEvolve give the
same numbers as evolve's own scorer, so the side-by-side comparison is fair.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from benchmarks._peers import (
    TRIVIAL_PROGRAM,
    adapted_problem,
    config_yaml,
    trivial_problem,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (REPO / "benchmarks").glob("*.py") if not p.name.startswith("_"))


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_script_is_listed_in_the_benchmarks_readme() -> None:
    readme = (REPO / "benchmarks" / "README.md").read_text()
    missing = [p.name for p in SCRIPTS if f"`{p.name}`" not in readme]
    assert not missing, f"benchmarks/README.md does not list {missing}"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_help_runs(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_trivial_problem_scores_the_numbers_in_the_program(tmp_path: Path) -> None:
    folder = trivial_problem(tmp_path / "trivial")
    evaluator = _load(folder / "evaluator.py", "trivial_evaluator")
    assert (folder / "initial_program.py").read_text() == TRIVIAL_PROGRAM
    # 1.0 + 2.0 + 3.0 = 6.0, four away from 10.
    assert evaluator.evaluate(str(folder / "initial_program.py")) == {"combined_score": 0.2}


def test_adapter_gives_openevolve_evolves_own_score(tmp_path: Path) -> None:
    source = REPO / "problems" / "function_minimization"
    folder = adapted_problem(source, tmp_path / "fm", metric="score", maximize=True)
    adapter = _load(folder / "evaluator.py", "fm_adapter")
    scorer = _load(source / "scorer.py", "fm_scorer")
    program = str(folder / "initial_program.py")
    expected = scorer.evaluate(program)["metrics"]["score"]
    result = adapter.evaluate(program)
    assert result["combined_score"] == pytest.approx(expected, rel=1e-12)
    assert result["score"] == pytest.approx(expected, rel=1e-12)


def test_adapter_scores_a_broken_candidate_worst(tmp_path: Path) -> None:
    source = REPO / "problems" / "function_minimization"
    folder = adapted_problem(source, tmp_path / "fm", metric="score", maximize=False)
    broken = folder / "broken.py"
    broken.write_text("def search(seed):\n    raise RuntimeError('no')\n")
    result = _load(folder / "evaluator.py", "fm_adapter_min").evaluate(str(broken))
    assert result["combined_score"] == -1e18
    assert result["error"] == 1.0


def test_config_points_openevolve_at_the_server() -> None:
    config = yaml.safe_load(config_yaml("http://127.0.0.1:9/v1", seed=3, iterations=50, workers=2))
    assert config["llm"]["api_base"] == "http://127.0.0.1:9/v1"
    assert config["max_iterations"] == 50
    assert config["random_seed"] == config["database"]["random_seed"] == 3
    assert config["evaluator"]["parallel_evaluations"] == 2
    assert config["diff_based_evolution"] is True  # our server answers SEARCH/REPLACE


def test_config_leaves_openevolves_database_defaults_when_asked() -> None:
    config = yaml.safe_load(
        config_yaml("http://x/v1", seed=1, iterations=5, workers=2, population=None)
    )
    assert config["database"] == {"random_seed": 1}
    kept = yaml.safe_load(config_yaml("http://x/v1", seed=1, iterations=5, workers=2, population=7))
    assert kept["database"]["population_size"] == 7


def test_the_pipeline_grids_costed_ideal_counts_each_cost_once() -> None:
    pipeline = _load(REPO / "benchmarks" / "pipeline.py", "pipeline_bench")
    sleep, burn = pipeline.Scorer(0.5, burn=False), pipeline.Scorer(0.2, burn=True)
    cores = pipeline.CORES
    # evaluators bind: K / (E + the slot's extra time)
    assert pipeline.costed_ideal(0.0, 8, 2, sleep, 0.05, 1000.0, 0.0) == pytest.approx(2 / 0.55)
    # the LLM binds: M / L, less the share of proposals that were duplicates
    assert pipeline.costed_ideal(2.0, 8, 32, sleep, 0.05, 1000.0, 0.25) == pytest.approx(3.0)
    # a CPU-bound scorer shares the cores with what the CPU limit measured
    limit = 40.0
    expected = min(32 / 0.25, cores / (0.2 + cores / limit))
    assert pipeline.costed_ideal(0.0, 32, 32, burn, 0.05, limit, 0.0) == pytest.approx(expected)
