"""What a scorer may return or do, end to end through the process sandbox."""

from __future__ import annotations

from dataclasses import replace

from evaluators import harness
from sandboxes.job import Stage, Status
from sandboxes.process import ProcessSandbox
from tests.sandboxes.jobs import IMPORTING_SCORER, make_job

TRIVIAL = "def solve():\n    return 2.5\n"


def scored(sandbox: ProcessSandbox, scorer: str, **kw: object):
    return sandbox.run(make_job(TRIVIAL, scorer, **kw))  # type: ignore[arg-type]


def test_plain_dict_of_numbers_is_ok_and_bools_count_as_numbers(sandbox: ProcessSandbox) -> None:
    result = scored(sandbox, "def evaluate(p):\n    return {'score': 3, 'valid': True}\n")
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 3.0, "valid": 1.0}
    assert result.stage_reached == 1
    assert result.reason == ""
    assert result.wall_time_s > 0
    assert result.peak_memory_mb > 0


def test_metrics_and_artifacts_form_keeps_both(sandbox: ProcessSandbox) -> None:
    scorer = """
    def evaluate(p):
        return {"metrics": {"score": 0.5}, "artifacts": {"feedback": "too slow", "n": 3}}
    """
    result = scored(sandbox, scorer)
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 0.5}
    assert result.artifacts["feedback"] == "too slow"
    assert result.artifacts["n"] == "3"


def test_openevolve_error_string_goes_to_artifacts(sandbox: ProcessSandbox) -> None:
    result = scored(
        sandbox, "def evaluate(p):\n    return {'combined_score': 0.0, 'error': 'boom'}"
    )
    assert result.status == Status.OK
    assert result.metrics == {"combined_score": 0.0}
    assert result.artifacts["error"] == "boom"


def test_scorer_raising_is_error_with_its_traceback(sandbox: ProcessSandbox) -> None:
    result = scored(sandbox, "def evaluate(p):\n    raise KeyError('no-such-key')\n")
    assert result.status == Status.ERROR
    assert "scorer.py:evaluate() raised KeyError" in result.reason
    assert "no-such-key" in result.artifacts["traceback"]
    assert "Traceback" in result.artifacts["traceback"]


def test_non_dict_results_are_errors_that_name_the_scorer_and_the_fix(
    sandbox: ProcessSandbox,
) -> None:
    for value, kind in (
        ("[1, 2]", "list"),
        ("None", "NoneType"),
        ("'0.9'", "str"),
        ("0.9", "float"),
    ):
        result = scored(sandbox, f"def evaluate(p):\n    return {value}\n")
        assert result.status == Status.ERROR, value
        assert f"scorer.py:evaluate() returned {kind}" in result.reason
        assert "return a dict" in result.reason
        assert result.metrics == {}


def test_nan_and_inf_metrics_are_invalid_and_named(sandbox: ProcessSandbox) -> None:
    for literal in ("float('nan')", "float('inf')", "-float('inf')", "10**400"):
        scorer = f"def evaluate(p):\n    return {{'score': 1.0, 'ratio': {literal}}}\n"
        result = scored(sandbox, scorer)
        assert result.status == Status.INVALID, literal
        assert "ratio" in result.reason
        assert result.metrics == {"score": 1.0}


def test_non_string_key_and_non_number_metric_are_errors(sandbox: ProcessSandbox) -> None:
    result = scored(sandbox, "def evaluate(p):\n    return {'score': 1.0, 3: 2.0}\n")
    assert result.status == Status.ERROR
    assert "int key 3" in result.reason
    result = scored(sandbox, "def evaluate(p):\n    return {'score': [1.0, 2.0]}\n")
    assert result.status == Status.ERROR
    assert "'score'" in result.reason and "list" in result.reason


def test_huge_string_artifact_is_clipped_without_failing(sandbox: ProcessSandbox) -> None:
    scorer = "def evaluate(p):\n    return {'score': 1.0, 'log': 'x' * 100_000_000 + 'END'}\n"
    result = scored(sandbox, scorer)
    assert result.status == Status.OK, result.reason
    assert 1000 < len(result.artifacts["log"]) <= 16_384
    assert result.artifacts["log"].endswith("END")
    assert "omitted" in result.artifacts["log"]


def test_dict_with_a_million_entries_is_refused_by_its_size(sandbox: ProcessSandbox) -> None:
    scorer = "def evaluate(p):\n    return {f'm{i}': float(i) for i in range(1_000_000)}\n"
    result = scored(sandbox, scorer, memory_mb=2048)
    assert result.status == Status.ERROR
    assert "1000000 entries" in result.reason


def test_missing_scorer_file_names_the_file(sandbox: ProcessSandbox) -> None:
    job = replace(make_job(TRIVIAL, "x = 1\n", scorer_name="other.py"), scorer="scorer.py")
    result = sandbox.run(job)
    assert result.status == Status.ERROR
    assert "'scorer.py' is not among the problem files" in result.reason
    assert "other.py" in result.reason


def test_missing_function_names_it_and_what_exists(sandbox: ProcessSandbox) -> None:
    result = scored(sandbox, "def evaluate_stage1(p):\n    return {}\n")
    assert result.status == Status.ERROR
    assert "defines no function evaluate(program_path)" in result.reason
    assert "evaluate_stage1" in result.reason


def test_syntax_error_in_scorer_names_file_and_line(sandbox: ProcessSandbox) -> None:
    result = scored(sandbox, "x = 1\ndef evaluate(p) return {}\n")
    assert result.status == Status.ERROR
    assert result.reason.startswith("scorer.py:2: syntax error")


def test_openevolve_evaluator_py_that_imports_the_candidate_works(sandbox: ProcessSandbox) -> None:
    result = sandbox.run(make_job(TRIVIAL, IMPORTING_SCORER, scorer_name="evaluator.py"))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 2.5}


def test_evaluator_running_the_candidate_with_the_interpreter_works(
    sandbox: ProcessSandbox,
) -> None:
    """The job's uid must be able to exec sys.executable and import numpy."""
    scorer = """
    import json, subprocess, sys

    def evaluate(program_path):
        out = subprocess.run(
            [sys.executable, "-c",
             f"import json, runpy, numpy; m = runpy.run_path({program_path!r}); "
             "print(json.dumps(m['solve']()))"],
            capture_output=True, text=True, timeout=30,
        )
        if out.returncode != 0:
            return {"combined_score": 0.0, "error": out.stderr[-2000:]}
        return {"combined_score": json.loads(out.stdout)}
    """
    result = sandbox.run(make_job(TRIVIAL, scorer, scorer_name="evaluator.py"))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"combined_score": 2.5}, result.artifacts


def test_candidate_may_use_numpy_inside_the_sandbox(sandbox: ProcessSandbox) -> None:
    code = """
    import numpy as np

    def solve():
        return float(np.linalg.norm(np.ones(4)))
    """
    result = sandbox.run(make_job(code))
    assert result.status == Status.OK, (result.reason, result.artifacts)
    assert result.metrics == {"score": 2.0}


def test_scorer_sibling_modules_and_data_files_are_importable(sandbox: ProcessSandbox) -> None:
    scorer = """
    import os
    from helper import weight

    def evaluate(p):
        with open(os.path.join(os.path.dirname(__file__), "data", "x.txt")) as f:
            return {"score": weight * float(f.read())}
    """
    files = {"helper.py": b"weight = 2.0\n", "data/x.txt": b"1.5"}
    result = sandbox.run(make_job(TRIVIAL, scorer, files=files))
    assert result.status == Status.OK, result.reason
    assert result.metrics == {"score": 3.0}


CASCADE = """
def evaluate_stage1(p):
    return {"score": 0.3, "stage1": 1.0}

def evaluate_stage2(p):
    return {"score": 0.6, "stage2": 1.0}

def evaluate_stage3(p):
    return {"score": 0.9, "stage3": 1.0}
"""


def cascade(*thresholds: float | None) -> tuple[Stage, ...]:
    return tuple(Stage(f"evaluate_stage{i + 1}", t) for i, t in enumerate(thresholds))


def test_cascade_runs_every_stage_when_thresholds_pass(sandbox: ProcessSandbox) -> None:
    result = sandbox.run(make_job(TRIVIAL, CASCADE, stages=cascade(0.2, 0.5, None)))
    assert result.status == Status.OK, result.reason
    assert result.stage_reached == 3
    assert result.metrics == {"score": 0.9, "stage1": 1.0, "stage2": 1.0, "stage3": 1.0}
    assert "cascade" not in result.artifacts


def test_cascade_stops_at_the_first_stage_below_its_threshold(sandbox: ProcessSandbox) -> None:
    result = sandbox.run(make_job(TRIVIAL, CASCADE, stages=cascade(0.2, 0.7, None)))
    assert result.status == Status.OK
    assert result.stage_reached == 2
    assert result.metrics == {"score": 0.6, "stage1": 1.0, "stage2": 1.0}
    assert "score=0.6 is below the threshold 0.7" in result.artifacts["cascade"]


def test_cascade_thresholds_are_upper_bounds_when_minimising(sandbox: ProcessSandbox) -> None:
    stop = sandbox.run(make_job(TRIVIAL, CASCADE, stages=cascade(0.2, None), maximize=False))
    assert stop.stage_reached == 1
    assert "above the threshold" in stop.artifacts["cascade"]
    go = sandbox.run(make_job(TRIVIAL, CASCADE, stages=cascade(0.4, 0.7, None), maximize=False))
    assert go.stage_reached == 3
    assert go.metrics["score"] == 0.9


def test_cascade_stage_error_reports_the_stage_reached(sandbox: ProcessSandbox) -> None:
    scorer = CASCADE + "\ndef evaluate_stage2(p):\n    raise RuntimeError('stage two broke')\n"
    result = sandbox.run(make_job(TRIVIAL, scorer, stages=cascade(None, None, None)))
    assert result.status == Status.ERROR
    assert result.stage_reached == 2
    assert "evaluate_stage2() raised RuntimeError: stage two broke" in result.reason
    assert result.metrics["stage1"] == 1.0


def test_scorer_raising_invalid_candidate_gives_invalid(sandbox: ProcessSandbox) -> None:
    scorer = """
    from evaluators import call_candidate, require_finite_array

    def evaluate(p):
        require_finite_array(call_candidate(p, "solve"), "centers", shape=(2, 2))
        return {"score": 1.0}
    """
    code = "def solve():\n    return [[0.0, 1.0], [float('nan'), 2.0]]\n"
    result = sandbox.run(make_job(code, scorer))
    assert result.status == Status.INVALID
    assert "centers[1][0] is nan" in result.reason


def test_a_package_the_sandbox_lacks_names_the_interpreter_and_the_fix(
    sandbox: ProcessSandbox,
) -> None:
    at_import = scored(sandbox, "import yaml_is_not_here\ndef evaluate(p):\n    return {}\n")
    assert at_import.status == Status.ERROR
    assert "has no 'yaml_is_not_here'" in at_import.reason
    assert '[sandbox] requirements = ["yaml_is_not_here"]' in at_import.reason  # the key
    assert "requirements.txt" in at_import.reason
    assert "-m pip install yaml_is_not_here" in at_import.reason
    assert "sandboxes/docker/requirements.txt" in at_import.reason
    lazily = scored(sandbox, "def evaluate(p):\n    import not_here_either.sub\n    return {}\n")
    assert lazily.status == Status.ERROR  # raised in evaluate()
    assert "-m pip install not_here_either" in lazily.reason
    named = harness._missing_module(ModuleNotFoundError("no", name="sklearn.svm"))
    assert named is not None and "pip install scikit-learn" in named  # its pip name
    # the package is there (PyYAML: an evolve dependency), a submodule is not: no hint
    wrong = scored(sandbox, "def evaluate(p):\n    import yaml.nothing\n    return {}\n")
    assert "No module named 'yaml.nothing'" in wrong.reason and "pip install" not in wrong.reason
