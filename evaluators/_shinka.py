"""Run a ShinkaEvolve ``evaluate.py`` as ShinkaEvolve does, and read what it wrote.

ShinkaEvolve does not import its scorers: it runs ``python evaluate.py
--program_path P --results_dir R`` and reads ``R/metrics.json`` and
``R/correct.json`` (``{"correct": bool, "error": str | null}``). The harness
does the same in its own process (a problem's stage named ``__main__``), so a
ShinkaEvolve folder runs unchanged; its ``from shinka.core import
run_shinka_eval`` finds evolve's stand-in (``evaluators/compat/shinka``).

What metrics.json holds becomes an :class:`~evaluators.results.Outcome`:

* its top-level numbers are metrics (``combined_score``, the objective, among
  them), and so are the numbers in ``public`` (same name) and ``private``
  (``private.<key>``); other top-level values, which ShinkaEvolve does not read
  either, are left out;
* ``public``'s other values and ``text_feedback`` are artifacts, which the next
  prompt shows under their names, as ShinkaEvolve shows them to its LLM;
  ``private``'s other values are not shown anywhere;
* ``correct: false`` makes the candidate INVALID, with correct.json's
  ``error`` as the reason; a missing or malformed file is an ERROR naming it.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
import tempfile
from typing import Any

from evaluators.contract import Status
from evaluators.results import Outcome, normalize, short_repr

__all__ = ["SCRIPT_STAGE", "read_results", "run_script", "split_metrics"]

SCRIPT_STAGE = "__main__"
"""The stage function name that means: run the scorer file as a script."""

MAX_RESULT_BYTES = 8 * 1024 * 1024  # a metrics.json larger than this is not summary numbers
_HOW = (
    "ShinkaEvolve's scorers write metrics.json and correct.json into --results_dir "
    "(shinka.core.run_shinka_eval does)"
)


def run_script(scorer_path: str, program_path: str, compat: str | None) -> Outcome:
    """Run ``scorer_path`` as ``__main__`` on the candidate with a fresh results
    folder, then read it. An exception the script raises propagates (the harness
    maps it to a status, naming a missing module); its ``sys.exit`` does not.

    ``compat``: the stand-ins' folder, appended to sys.path (an installed
    ShinkaEvolve wins); the script's own folder comes first, as under python."""
    name = os.path.basename(scorer_path)
    if not os.path.isfile(scorer_path):
        return Outcome(
            Status.ERROR,
            f"scorer file {name!r} is not among the problem files; a ShinkaEvolve folder "
            "holds initial.py and evaluate.py",
        )
    results_dir = tempfile.mkdtemp(prefix="shinka-results-", dir=tempfile.gettempdir())
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [scorer_path, "--program_path", program_path, "--results_dir", results_dir]
    sys.path.insert(0, os.path.dirname(os.path.abspath(scorer_path)))
    if compat is not None and compat not in sys.path:
        sys.path.append(compat)
    try:
        runpy.run_path(scorer_path, run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            shutil.rmtree(results_dir, ignore_errors=True)
            return Outcome(
                Status.ERROR,
                f"{name} exited with sys.exit({short_repr(exc.code)}) (as a script, "
                "ShinkaEvolve's way; the candidate runs in its process and may have called "
                "it); what it printed is in the stdout and stderr artifacts",
            )
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    try:
        return read_results(results_dir, name)
    finally:
        shutil.rmtree(results_dir, ignore_errors=True)


def read_results(results_dir: str, name: str = "evaluate.py") -> Outcome:
    """The outcome of a ShinkaEvolve scorer from the files it wrote in ``results_dir``."""
    metrics = _load_json(results_dir, "metrics.json", name)
    if isinstance(metrics, Outcome):
        return metrics
    verdict = _load_json(results_dir, "correct.json", name)
    if isinstance(verdict, Outcome):
        return verdict
    correct = verdict.get("correct")
    if not isinstance(correct, bool):
        return Outcome(
            Status.ERROR,
            f"{name} wrote a correct.json whose 'correct' is {short_repr(correct)}, "
            f"not true or false; {_HOW}",
        )
    numbers, texts = split_metrics(metrics)
    outcome = normalize({"metrics": numbers, "artifacts": texts}, f"{name}:{SCRIPT_STAGE}")
    if outcome.status == Status.ERROR or correct:
        return outcome
    error = verdict.get("error")
    reason = error if isinstance(error, str) and error else "correct.json says correct: false"
    return Outcome(Status.INVALID, reason, outcome.metrics, outcome.artifacts)


def _load_json(results_dir: str, file: str, name: str) -> dict[str, Any] | Outcome:
    """One of the two result files as a JSON object, or the ERROR saying what is wrong."""
    path = os.path.join(results_dir, file)
    try:
        size = os.path.getsize(path)
        if size > MAX_RESULT_BYTES:
            return Outcome(
                Status.ERROR,
                f"{name} wrote a {file} of {size} bytes (at most {MAX_RESULT_BYTES}); keep "
                "raw data out of it (extra.npz beside it is never read)",
            )
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return Outcome(
            Status.ERROR,
            f"{name} wrote no {file} in its --results_dir; {_HOW}; what it printed is in "
            "the stdout and stderr artifacts",
        )
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        return Outcome(Status.ERROR, f"{name} wrote a {file} that is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return Outcome(
            Status.ERROR,
            f"{name} wrote a {file} holding {type(data).__name__} {short_repr(data)}, "
            "not a JSON object",
        )
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, bool | int | float)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def split_metrics(metrics: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """metrics.json as (numbers, texts) by the rules in the module docstring;
    a public name that a top-level one already takes becomes ``public.<key>``."""
    numbers: dict[str, Any] = {k: v for k, v in metrics.items() if _is_number(v)}
    texts: dict[str, str] = {}
    feedback = metrics.get("text_feedback")
    if feedback not in (None, ""):
        texts["text_feedback"] = _as_text(feedback)
    public = metrics.get("public")
    if isinstance(public, dict):
        for key, value in public.items():
            target = numbers if _is_number(value) else texts
            if value is None:
                continue
            name = str(key)
            if name in numbers or name in texts:
                name = f"public.{key}"
            target[name] = value if target is numbers else _as_text(value)
    private = metrics.get("private")
    if isinstance(private, dict):
        numbers.update({f"private.{k}": v for k, v in private.items() if _is_number(v)})
    return numbers, texts
