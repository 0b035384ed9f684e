"""ShinkaEvolve's problem folders (initial.py + evaluate.py run as a script),
copied unchanged into tests/problems/peers/shinka_*: they load as layout
"shinka" and score in both sandboxes exactly what ShinkaEvolve's own flow
(``python evaluate.py --program_path initial.py --results_dir R``) gives them;
and the pieces on the way (the run_shinka_eval stand-in, evaluators._shinka,
the loader) on small hand-written folders."""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evaluators import _shinka, harness
from evolve.config import load_problem
from evolve.errors import ProblemError
from sandboxes.job import Sandbox, Stage, Status

PEERS = Path(__file__).resolve().parent / "peers"
EXAMPLES = ["circle_packing", "sine_approx_headless", "game_2048"]
SEED = "# EVOLVE-BLOCK-START\ndef f(seed):\n    return seed\n# EVOLVE-BLOCK-END\n"


@pytest.fixture(params=["process", "docker"])
def box(request: pytest.FixtureRequest) -> Sandbox:
    return request.getfixturevalue(f"{request.param}_box")


def _compat() -> str:
    compat = harness.compat_dir()
    assert compat is not None, "evaluators/compat is missing"
    return compat


def at_home(folder: Path, work: Path, program: str = "initial.py") -> tuple[dict[str, Any], Any]:
    """ShinkaEvolve's own flow on a copy of ``folder``: its evaluate.py as a
    script, the stand-in on PYTHONPATH; (metrics.json, correct.json)."""
    copy = work / folder.name
    shutil.copytree(folder, copy)
    results = work / "results"
    env = {**os.environ, "PYTHONPATH": _compat(), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "evaluate.py", "--program_path", program, "--results_dir"]
    subprocess.run([*command, str(results)], cwd=copy, env=env, check=True, timeout=300)
    metrics = json.loads((results / "metrics.json").read_text())
    return metrics, json.loads((results / "correct.json").read_text())


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], tuple[dict[str, Any], Any]]:
    cache: dict[str, tuple[dict[str, Any], Any]] = {}

    def get(example: str) -> tuple[dict[str, Any], Any]:
        if example not in cache:
            work = tmp_path_factory.mktemp(f"home_{example}")
            cache[example] = at_home(PEERS / f"shinka_{example}", work)
        return cache[example]

    return get


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_seed_scores_what_it_scores_at_home(
    box: Sandbox, example: str, home: Callable[[str], tuple[dict[str, Any], Any]]
) -> None:
    loaded = load_problem(PEERS / f"shinka_{example}")
    assert loaded.layout == "shinka" and loaded.stages == (Stage("__main__"),)
    result = box.run(loaded.make_job("seed", loaded.initial_code))
    assert result.status == Status.OK, result.reason
    metrics, correct = home(example)
    assert correct["correct"] is True
    assert result.metrics["combined_score"] == metrics["combined_score"]
    numbers, texts = _shinka.split_metrics(metrics)
    expected = {k: float(v) for k, v in numbers.items() if not k.startswith("execution_time")}
    assert {k: result.metrics[k] for k in expected} == expected  # every number, exactly
    for name, text in texts.items():  # centers_str, rendered_final_board
        assert result.artifacts[name] == text


def test_circle_packings_numbers_where_they_belong(box: Sandbox) -> None:
    loaded = load_problem(PEERS / "shinka_circle_packing")
    result = box.run(loaded.make_job("seed", loaded.initial_code))
    assert result.metrics["num_circles"] == 26.0  # public, by its own name
    assert result.metrics["private.reported_sum_of_radii"] == result.metrics["combined_score"]
    assert result.metrics["num_valid_runs"] == 1.0 and result.metrics["num_invalid_runs"] == 0.0
    assert result.artifacts["centers_str"].startswith("  centers[0] = (0.5000, 0.5000)")


def test_a_candidate_that_raises_is_invalid_with_shinkaevolves_error_metrics(
    box: Sandbox, tmp_path: Path
) -> None:
    loaded = load_problem(PEERS / "shinka_circle_packing")
    broken = "def run_packing():\n    raise RuntimeError('no packing today')\n"
    result = box.run(loaded.make_job("broken", broken))
    (tmp_path / "broken.py").write_text(broken)
    metrics, correct = at_home(
        PEERS / "shinka_circle_packing", tmp_path, str(tmp_path / "broken.py")
    )
    assert correct == {"correct": False, "error": "no packing today"}  # what ShinkaEvolve writes
    assert result.status == Status.INVALID and result.reason == "no packing today"
    assert result.metrics["combined_score"] == metrics["combined_score"] == 0.0
    assert result.metrics["num_invalid_runs"] == 0.0  # ShinkaEvolve's defaults, as they are


def test_an_invalid_packing_is_invalid_with_the_validators_message(box: Sandbox) -> None:
    loaded = load_problem(PEERS / "shinka_circle_packing")
    code = loaded.initial_code.replace("radii = np.maximum(radii, 0.0)", "radii = radii * 2")
    result = box.run(loaded.make_job("overlap", code))
    assert result.status == Status.INVALID
    assert result.reason.startswith("Validation failed: ")
    assert result.metrics["num_invalid_runs"] == 1.0


# -- the loader ---------------------------------------------------------------


def test_what_a_shinkaevolve_folder_ships_and_maps() -> None:
    loaded = load_problem(PEERS / "shinka_circle_packing")
    assert loaded.scorer == "evaluate.py" and loaded.config_file == "shinka_small.yaml"
    assert sorted(loaded.files) == ["LICENSE", "evaluate.py"]  # no run_evo.py, yaml, README
    spec = loaded.spec
    assert spec.objective.metric == "combined_score" and spec.objective.maximize
    assert spec.evaluation.timeout_s == 300.0  # run_evo.py: LocalJobConfig(time="00:05:00")
    db = spec.database  # shinka_small.yaml's db_config
    assert (db.num_islands, db.archive_size, db.migration_interval) == (2, 40, 10)
    assert (db.migration_fraction, db.selection, db.weighted_lambda) == (0.1, "weighted", 10.0)
    assert db.archive_policy == "crowding"
    sine = load_problem(PEERS / "shinka_sine_approx_headless")
    assert sine.spec.evaluation.timeout_s == 180.0 and sine.config_file is None
    assert sine.spec.database.archive_size == 8  # run_evo.py's DatabaseConfig(archive_size=8)
    assert sorted(load_problem(PEERS / "shinka_game_2048").files) == [
        "LICENSE",
        "env.py",
        "evaluate.py",
    ]


def _folder(tmp_path: Path, evaluate: str, initial: str = SEED) -> Path:
    folder = tmp_path / "task"
    folder.mkdir(exist_ok=True)
    (folder / "evaluate.py").write_text(textwrap.dedent(evaluate))
    (folder / "initial.py").write_text(initial)
    return folder


def test_run_configs_one_applies_several_need_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _folder(tmp_path, "print('hi')\n")
    (folder / "small.yaml").write_text("db_config:\n  num_islands: 3\n  migration_rate: 0.2\n")
    (folder / "notes.yaml").write_text("colour: blue\n")  # not a run config: it ships
    (folder / "plots.ipynb").write_text("{}")
    loaded = load_problem(folder)
    assert loaded.config_file == "small.yaml" and loaded.spec.database.num_islands == 3
    assert loaded.spec.database.migration_fraction == 0.2
    assert sorted(loaded.files) == ["evaluate.py", "notes.yaml"]
    (folder / "large.yaml").write_text("db_config:\n  num_islands: 5\n  elite_selection_ratio: 1\n")
    with caplog.at_level(logging.INFO):
        assert load_problem(folder).spec.database.num_islands == 2  # ShinkaEvolve's default
    assert "several ShinkaEvolve run configs (large.yaml, small.yaml)" in caplog.text
    with caplog.at_level(logging.INFO):
        chosen = load_problem(folder, "large.yaml")
    assert chosen.config_file == "large.yaml" and chosen.spec.database.num_islands == 5
    assert "db_config.elite_selection_ratio" in caplog.text  # no equivalent: said once


def test_a_non_python_seed_is_refused_clearly(tmp_path: Path) -> None:
    folder = tmp_path / "fortran"
    folder.mkdir()
    (folder / "evaluate.py").write_text("print('hi')\n")
    (folder / "initial.f90").write_text("! EVOLVE-BLOCK-START\n! EVOLVE-BLOCK-END\n")
    with pytest.raises(ProblemError, match=r"seed is initial\.f90: evolve evolves Python"):
        load_problem(folder)


# -- evaluators._shinka on hand-written scripts ---------------------------------

WRITE = """
    import argparse, json, os
    p = argparse.ArgumentParser()
    p.add_argument("--program_path"); p.add_argument("--results_dir")
    a = p.parse_args()
    def write(name, data):
        with open(os.path.join(a.results_dir, name), "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
"""


def _score(sandbox: Sandbox, tmp_path: Path, body: str, code: str = SEED) -> Any:
    loaded = load_problem(_folder(tmp_path, textwrap.dedent(WRITE) + textwrap.dedent(body)))
    return sandbox.run(loaded.make_job("c", code))


def test_correct_false_is_invalid_with_its_error(sandbox: Sandbox, tmp_path: Path) -> None:
    result = _score(
        sandbox,
        tmp_path,
        """
        write("metrics.json", {"combined_score": 0.25})
        write("correct.json", {"correct": False, "error": "radius 3 is negative"})
        """,
    )
    assert result.status == Status.INVALID and result.reason == "radius 3 is negative"
    assert result.metrics["combined_score"] == 0.25


def test_public_private_and_text_feedback(sandbox: Sandbox, tmp_path: Path) -> None:
    metrics = {
        "combined_score": 1.5,
        "runtime": 2,
        "notes": ["left out"],
        "text_feedback": "try a hexagonal grid",
        "public": {"rmse": 0.5, "ok": True, "board": "|2|4|", "combined_score": 9, "n": None},
        "private": {"holdout": 0.75, "secret": "never shown"},
    }
    result = _score(
        sandbox,
        tmp_path,
        f"""
        write("metrics.json", {metrics!r})
        write("correct.json", {{"correct": True, "error": None}})
        """,
    )
    assert result.status == Status.OK, result.reason
    assert {k: v for k, v in result.metrics.items()} == {
        "combined_score": 1.5,
        "runtime": 2.0,
        "rmse": 0.5,
        "ok": 1.0,
        "public.combined_score": 9.0,  # a public name taken at the top level
        "private.holdout": 0.75,
    }
    assert result.artifacts["text_feedback"] == "try a hexagonal grid"
    assert result.artifacts["board"] == "|2|4|"
    assert "never shown" not in json.dumps(result.artifacts)


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ("print('done')", Status.ERROR, "wrote no metrics.json"),
        (
            "write('metrics.json', '{\"combined_score\": 1,'); write('correct.json', {})",
            Status.ERROR,
            "a metrics.json that is not valid JSON",
        ),
        ("write('metrics.json', [1, 2]); write('correct.json', {})", Status.ERROR, "holding list"),
        (
            "write('metrics.json', {}); write('correct.json', {'correct': 'yes'})",
            Status.ERROR,
            "'correct' is 'yes', not true or false",
        ),
        ("write('metrics.json', {})", Status.ERROR, "wrote no correct.json"),
        ("import sys; sys.exit(1)", Status.ERROR, "exited with sys.exit(1)"),
        ("import sys; sys.exit('bad input')", Status.ERROR, "sys.exit('bad input')"),
        ("import no_such_package_here", Status.ERROR, "has no 'no_such_package_here'"),
        ("raise KeyError('k')", Status.ERROR, "evaluate.py (run as a script) raised KeyError"),
        (
            "write('metrics.json', {'combined_score': float('nan')}); "
            "write('correct.json', {'correct': True})",
            Status.INVALID,
            "non-finite metric combined_score=nan",
        ),
    ],
)
def test_what_goes_wrong_is_said(
    sandbox: Sandbox, tmp_path: Path, body: str, status: Status, words: str
) -> None:
    result = _score(sandbox, tmp_path, body)
    assert result.status == status and words in result.reason, result.reason


def test_sys_exit_0_is_success(sandbox: Sandbox, tmp_path: Path) -> None:
    body = """
    write("metrics.json", {"combined_score": 2})
    write("correct.json", {"correct": True, "error": None})
    raise SystemExit(0)
    """
    result = _score(sandbox, tmp_path, body)
    assert result.status == Status.OK and result.metrics == {"combined_score": 2.0}


def test_run_script_directly_restores_argv_and_path(tmp_path: Path) -> None:
    done = "write('metrics.json', {'a': 1})\nwrite('correct.json', {'correct': True})\n"
    folder = _folder(tmp_path, textwrap.dedent(WRITE) + done)
    argv, path = list(sys.argv), list(sys.path)
    outcome = _shinka.run_script(str(folder / "evaluate.py"), str(folder / "initial.py"), _compat())
    assert outcome.status == Status.OK and outcome.metrics == {"a": 1.0}
    assert sys.argv == argv and sys.path == path


# -- the run_shinka_eval stand-in, as ShinkaEvolve's scripts call it -----------------

RUN = """
    import argparse
    from shinka.core import run_shinka_eval
    p = argparse.ArgumentParser()
    p.add_argument("--program_path"); p.add_argument("--results_dir")
    a = p.parse_args()
    run_shinka_eval(a.program_path, a.results_dir, "f", {runs}{extra})
"""


def _run_home(tmp_path: Path, runs: int, extra: str = "", code: str = SEED) -> tuple[Any, Any]:
    folder = _folder(tmp_path, RUN.format(runs=runs, extra=extra), code)
    return at_home(folder, tmp_path / "home")


def test_runs_get_seeds_and_the_default_metrics(tmp_path: Path) -> None:
    metrics, correct = _run_home(tmp_path, 3, ", validate_fn=lambda r: (r != 2, f'two: {r}')")
    assert correct == {"correct": False, "error": "Validation failed: two: 2"}
    assert metrics["num_successful_runs"] == 3 and metrics["raw_results_preview"] == "[1, 2]"
    assert metrics["first_run_result_type"] == "<class 'int'>"
    assert (metrics["num_valid_runs"], metrics["num_invalid_runs"]) == (2, 1)
    assert metrics["all_validation_errors"] == ["two: 2"]
    assert metrics["execution_time_mean"] >= 0 and metrics["execution_time_std"] >= 0


def test_aggregation_extra_data_and_a_nan_score(tmp_path: Path) -> None:
    aggregate = (
        ", get_experiment_kwargs=lambda i: {'seed': 10 * i}, run_workers=4, plotting_fn=print,"
        " aggregate_metrics_fn=lambda rs: {'combined_score': float('nan'), 'extra_data': rs}"
    )
    metrics, correct = _run_home(tmp_path, 2, aggregate)
    assert correct == {"correct": False, "error": "combined_score is NaN"}
    assert "extra_data" not in metrics
    extra = pickle.loads((tmp_path / "home" / "results" / "extra.pkl").read_bytes())
    assert extra == [0, 10]


def test_errors_give_the_default_metrics(tmp_path: Path) -> None:
    metrics, correct = _run_home(
        tmp_path, 1, ", default_metrics_on_error={'combined_score': -1.0, 'mine': 5}", "x = 1\n"
    )
    assert correct == {"correct": False, "error": "Experiment function 'f' not found in initial.py"}
    assert metrics == {
        "combined_score": -1.0,  # the scorer's default; its other keys are not kept
        "execution_time_mean": 0.0,
        "execution_time_std": 0.0,
        "num_successful_runs": 0,
        "num_valid_runs": 0,
        "num_invalid_runs": 0,
        "all_validation_errors": [],
    }


def test_early_stopping_and_shinkas_llm_stack_are_refused_clearly(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    folder = _folder(tmp_path, RUN.format(runs=3, extra=", early_stop_method='ci'"))
    result = sandbox.run(load_problem(folder).make_job("c", SEED))
    assert result.status == Status.ERROR and "does not stop early" in result.reason
    (folder / "evaluate.py").write_text("from shinka.llm import LLMClient\n")
    result = sandbox.run(load_problem(folder).make_job("c", SEED))
    assert "shinka.llm (ShinkaEvolve's LLM clients) is not available" in result.reason
    (folder / "evaluate.py").write_text("from shinka.core import ShinkaEvolveRunner\n")
    result = sandbox.run(load_problem(folder).make_job("c", SEED))
    assert "shinka.core.ShinkaEvolveRunner is not available" in result.reason


def test_ignored_keys_are_said_once_for_the_folder_and_its_runs_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _folder(tmp_path, "print('hi')\n")
    (folder / "run.yaml").write_text("db_config:\n  stagnation_threshold: 7\nevo_config: {}\n")
    with caplog.at_level(logging.INFO):
        load_problem(folder)
        load_problem(shutil.copytree(folder, tmp_path / "run" / "problem"))
    assert caplog.text.count("db_config.stagnation_threshold") == 1
    assert caplog.text.count("evo_config") == 1
