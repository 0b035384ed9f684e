"""ShinkaEvolve's evaluation wrapper, as its ``evaluate.py`` scripts call it.

``run_shinka_eval(program_path, results_dir, experiment_fn_name, num_runs, ...)``
imports the candidate into this (the scorer's) process, calls its experiment
function ``num_runs`` times, validates and aggregates the results, and writes
``results_dir/metrics.json`` and ``results_dir/correct.json``
(``{"correct": bool, "error": str | null}``); it returns
``(metrics, correct, error)``. evolve's harness then reads those two files
(:mod:`evaluators._shinka`), as ShinkaEvolve's runner does.

Written for evolve against ShinkaEvolve's documented interface, so that its
problem folders score here what they score at home. What differs, and why:

* ``early_stop_method`` raises: ShinkaEvolve's early-stopping estimators are a
  library of their own, and stopping after fewer runs changes the metrics, so
  a folder that asks for it is told rather than scored differently;
* ``run_workers > 1`` runs the runs one after another in this process (a note
  is printed): the sandbox already bounds the job's processes, and the
  aggregated metrics are the same for a candidate without module-level state;
* ``plotting_fn`` is not called (a note is printed): plots need matplotlib and
  nothing in evolve reads them; ``extra_data`` is still pickled to extra.pkl.

Standard library only, like the rest of ``evaluators`` (ShinkaEvolve's own uses
numpy for a mean and a standard deviation).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import statistics
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["DEFAULT_METRICS_ON_ERROR", "load_program", "run_shinka_eval", "save_json_results"]

DEFAULT_METRICS_ON_ERROR: dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}
"""What a failed evaluation reports (the keys ShinkaEvolve's scorers override
with ``default_metrics_on_error``; other keys given there are not kept)."""


def load_program(program_path: str) -> ModuleType:
    """The candidate as a fresh module named ``program`` (not put in sys.modules),
    as ShinkaEvolve imports it."""
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None:
        raise ImportError(f"Could not load spec for module at {program_path}")
    if spec.loader is None:
        raise ImportError(f"Spec loader is None for module at {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def save_json_results(
    results_dir: str,
    metrics: dict[str, Any],
    correct: bool,
    error: str | None = None,
    verbose: bool = True,
) -> None:
    """Write correct.json and metrics.json (indented JSON) into ``results_dir``."""
    os.makedirs(results_dir, exist_ok=True)
    correct_file = os.path.join(results_dir, "correct.json")
    with open(correct_file, "w") as f:
        json.dump({"correct": correct, "error": error}, f, indent=4)
    if verbose:
        print(f"Correctness and error status saved to {correct_file}")
    metrics_file = os.path.join(results_dir, "metrics.json")
    with open(metrics_file, "w") as f:
        json.dump(metrics, f, indent=4)
    if verbose:
        print(f"Metrics saved to {metrics_file}")


def _check_arguments(run_workers: int, max_workers_cap: int | None, early_stop_method: Any) -> None:
    """Refuse what ShinkaEvolve refuses, and early stopping (see the module doc)."""
    if run_workers < 1:
        raise ValueError("run_workers must be >= 1")
    if max_workers_cap is not None and max_workers_cap < 1:
        raise ValueError("max_workers_cap must be >= 1 when provided")
    if early_stop_method is not None:
        raise ValueError(
            f"early_stop_method={early_stop_method!r}: evolve's stand-in for "
            "shinka.core.run_shinka_eval does not stop early (ShinkaEvolve's estimators are "
            "not provided, and fewer runs would change the metrics); remove the "
            "early_stop_* arguments from the scorer to run every run"
        )


def _default_aggregate(results: list[Any]) -> dict[str, Any]:
    """ShinkaEvolve's metrics when the scorer gives no aggregate function."""
    if not results:
        return {
            "num_successful_runs": 0,
            "first_run_result_type": "N/A",
            "raw_results_preview": "N/A",
        }
    return {
        "num_successful_runs": len(results),
        "first_run_result_type": str(type(results[0])),
        "raw_results_preview": str(results[:2]),
    }


def _non_finite_score(metrics: dict[str, Any]) -> str | None:
    """Why the combined score makes the evaluation incorrect (NaN or infinite)."""
    if "combined_score" not in metrics:
        return None
    score = metrics["combined_score"]
    if math.isnan(score):  # a non-number raises: an evaluation error, as at home
        return "combined_score is NaN"
    if math.isinf(score):
        return f"combined_score is inf ({score})"
    return None


def _save_extra(metrics: dict[str, Any], results_dir: str, plotting: bool) -> None:
    """Pop ``extra_data`` into results_dir/extra.pkl (the scorer's own data)."""
    if "extra_data" not in metrics:
        return
    os.makedirs(results_dir, exist_ok=True)
    extra_file = os.path.join(results_dir, "extra.pkl")
    with open(extra_file, "wb") as f:
        pickle.dump(metrics.pop("extra_data"), f)
    print(f"Extra data saved to {extra_file}")
    if plotting:
        print("Note: plotting_fn is not called in evolve's sandbox (nothing reads the plots)")


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Callable[[int], dict[str, Any]] | None = None,
    aggregate_metrics_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[Any], tuple[bool, str | None]] | None = None,
    plotting_fn: Callable[[Any], list[Any]] | None = None,
    default_metrics_on_error: dict[str, Any] | None = None,
    early_stop_method: Any = None,
    early_stop_threshold: float | None = None,
    early_stop_score_fn: Callable[[Any], float] | None = None,
    early_stop_kwargs: dict[str, Any] | None = None,
    run_workers: int = 1,
    max_workers_cap: int | None = None,
    verbose: bool | None = None,
) -> tuple[dict[str, Any], bool, str | None]:
    """Run ``experiment_fn_name`` of the candidate ``num_runs`` times (keyword
    arguments from ``get_experiment_kwargs(i)``, else ``{"seed": i + 1}``),
    validate each result, aggregate, save the JSON files; return
    ``(metrics, correct, first_error)``.

    An exception anywhere (the import, a run, validation, aggregation) gives
    the default error metrics and ``correct`` false with the exception's text.
    """
    if verbose is None:
        verbose = os.environ.get("SHINKA_EVAL_VERBOSE", "1") != "0"
    defaults = dict(default_metrics_on_error or DEFAULT_METRICS_ON_ERROR)
    _check_arguments(run_workers, max_workers_cap, early_stop_method)
    workers = min(run_workers, max_workers_cap or run_workers, max(num_runs, 1))
    if num_runs > 1 and workers > 1:
        print(f"Note: {num_runs} runs one after another (run_workers={run_workers} asked)")

    correct = True
    first_error: str | None = None
    validation_errors: list[str] = []
    num_valid = num_invalid = 0
    results: list[Any] = []
    times: list[float] = []
    try:
        module = load_program(program_path)
        if not hasattr(module, experiment_fn_name):
            raise AttributeError(
                f"Experiment function '{experiment_fn_name}' not found in {program_path}"
            )
        experiment_fn = getattr(module, experiment_fn_name)
        for i in range(num_runs):
            if verbose:
                print(f"{'=' * 10}Running program evaluation {i + 1}/{num_runs}...{'=' * 10}")
            kwargs = get_experiment_kwargs(i) if get_experiment_kwargs else {"seed": i + 1}
            started = time.perf_counter()
            result = experiment_fn(**kwargs)
            elapsed = time.perf_counter() - started
            results.append(result)
            times.append(elapsed)
            if validate_fn:
                valid, message = validate_fn(result)
                if valid:
                    num_valid += 1
                else:
                    num_invalid += 1
                    correct = False
                    if message:
                        first_error = first_error or f"Validation failed: {message}"
                        if message not in validation_errors:
                            validation_errors.append(message)
            if verbose:
                print(
                    f"{'=' * 10}Run {i + 1}/{num_runs} completed in {elapsed:.2f} seconds{'=' * 10}"
                )

        metrics = (
            aggregate_metrics_fn(results) if aggregate_metrics_fn else _default_aggregate(results)
        )
        metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
        metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
        if validate_fn:
            metrics["num_valid_runs"] = num_valid
            metrics["num_invalid_runs"] = num_invalid
            metrics["all_validation_errors"] = validation_errors
        if problem := _non_finite_score(metrics):
            correct = False
            first_error = first_error or problem
    except Exception as exc:
        print(f"Evaluation error: {exc}")
        metrics = {key: defaults.get(key, value) for key, value in DEFAULT_METRICS_ON_ERROR.items()}
        if validate_fn:  # only fills what the defaults lack (they have all three)
            metrics.setdefault("num_valid_runs", 0)
            metrics.setdefault("num_invalid_runs", len(results))
            metrics.setdefault("all_validation_errors", [str(exc)])
        first_error = str(exc)
        correct = False

    _save_extra(metrics, results_dir, plotting_fn is not None)
    save_json_results(results_dir, metrics, correct, first_error, verbose=verbose)
    return metrics, correct, first_error
