"""The harness: load a problem's scorer, run its cascade, send one envelope back.

It runs inside the sandbox (normally forked by :mod:`evaluators.supervisor`,
or as ``python -m evaluators.harness --spec spec.json --result-fd N``). The
envelope goes to the private fd ``N``, never stdout, so a candidate printing a
fake result changes nothing; stdout and stderr are captured as artifacts.

Spec (a JSON object): ``work_dir`` (the problem's files), ``scorer`` (file
name, default ``scorer.py``; OpenEvolve's ``evaluator.py`` works unchanged),
``program`` (absolute path of the candidate), ``stages`` (``[[function,
threshold or null], ...]``, default ``[["evaluate", null]]``), ``objective``,
``maximize`` and ``memory_mb`` (for messages).

Cascade: stage ``i`` runs ``function(program_path)``; its metrics are merged
over the earlier ones. If the stage has a threshold and its objective is below
it (above it when minimising), the cascade stops there, still status OK.
``stage_reached`` counts the stages that ran. A single stage named
``__main__`` runs the scorer file as a script instead, ShinkaEvolve's way
(:mod:`evaluators._shinka`).
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import json
import os
import sys
import traceback
from types import ModuleType
from typing import Any

from evaluators import _channel, _listeners, _shinka, envelope
from evaluators._endings import EXIT_HINT, allocation_failure, memory_advice
from evaluators.checks import InvalidCandidate
from evaluators.contract import Status
from evaluators.isolation import (
    CandidateError,
    CandidateOutOfMemory,
    CandidateTimeout,
    start_zygote,
)
from evaluators.results import Outcome, normalize

__all__ = ["evaluate_spec", "main", "serve"]

_TRACEBACK_CHARS = 8000
_ENVELOPE_BUDGET = 1_200_000  # bytes for artifacts; the supervisor adds its own within the cap


def _traceback(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = f"{type(exc).__name__}"
    return text[-_TRACEBACK_CHARS:]


def _describe(exc: BaseException) -> str:
    try:
        message = str(exc)[:1000]
    except Exception:
        message = "<unprintable>"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _failure(exc: BaseException, where: str, memory_mb: int) -> Outcome:
    """Map what a scorer raised to a status, a one-line reason and artifacts."""
    if isinstance(exc, CandidateTimeout):
        return Outcome(Status.TIMEOUT, f"{exc} (in {where})", artifacts=_tb(exc.traceback))
    if isinstance(exc, CandidateOutOfMemory):
        return Outcome(Status.OOM, f"{exc} (in {where})", artifacts=_tb(exc.traceback))
    if isinstance(exc, CandidateError):
        text = f"the candidate failed in {where}: {exc}"
        return Outcome(Status.ERROR, text, artifacts=_tb(exc.traceback or _traceback(exc)))
    if isinstance(exc, InvalidCandidate):
        return Outcome(Status.INVALID, f"{where}: {exc}", artifacts=_tb(_traceback(exc)))
    if isinstance(exc, MemoryError):
        text = f"{where} ran out of memory (limit {memory_mb} MB)"
        return Outcome(Status.OOM, text, artifacts=_tb(_traceback(exc)))
    if isinstance(exc, SystemExit):
        text = f"sys.exit({exc.code!r}) was called during {where}; {EXIT_HINT}"
        return Outcome(Status.ERROR, text, artifacts=_tb(_traceback(exc)))
    text = f"{where} raised {_describe(exc)}"
    if phrase := allocation_failure(_describe(exc)):  # ENOMEM, a native bad_alloc
        text = f"{text}: an allocation was refused ({phrase}); {memory_advice(memory_mb)}"
        return Outcome(Status.OOM, text, artifacts=_tb(_traceback(exc)))
    if fix := _missing_module(exc):
        text += f"; {fix}"
    return Outcome(Status.ERROR, text, artifacts=_tb(_traceback(exc)))


# import name -> the name pip installs it by, where they differ (the common ones)
_DISTRIBUTIONS = {
    "yaml": "PyYAML",
    "sklearn": "scikit-learn",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "PIL": "Pillow",
}


def _missing_module(exc: BaseException) -> str | None:
    """For a package the scorer needs that this sandbox lacks: which Python ran
    it and the key that installs it for this problem (``[sandbox] requirements``
    or a requirements.txt: a cached package folder for the process sandbox, an
    image layer for Docker), or how to add it to the interpreter itself."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top != exc.name and importlib.util.find_spec(top) is not None:
        return None  # the package is there, the submodule is not: no install helps
    package = _DISTRIBUTIONS.get(top, top)
    version = ".".join(map(str, sys.version_info[:2]))
    return (
        f"the sandbox's Python ({sys.executable}, {version}) has no {package!r}: name it in "
        f'the problem\'s scorer packages (problem.toml: [sandbox] requirements = ["{package}"], '
        "or a line in the folder's requirements.txt), which both sandboxes install for the "
        f"problem; or install it into that interpreter ({sys.executable} -m pip install "
        f"{package}; for Docker, sandboxes/docker/requirements.txt and `evolve sandbox build`)"
    )


def _tb(text: str) -> dict[str, str]:
    return {"traceback": text} if text else {}


def _load_scorer(work_dir: str, scorer: str) -> ModuleType | Outcome:
    path = os.path.join(work_dir, scorer)
    if not os.path.isfile(path):
        try:
            present = ", ".join(sorted(os.listdir(work_dir))[:20]) or "none"
        except OSError:
            present = "none"
        return Outcome(
            Status.ERROR,
            f"scorer file {scorer!r} is not among the problem files ({present}); add it to "
            "the problem folder or name the right file as the problem's scorer",
        )
    stem = os.path.splitext(os.path.basename(path))[0]
    name = stem if stem.isidentifier() and stem not in sys.modules else "__scorer__"
    sys.path.insert(0, os.path.dirname(path))  # scorers import their sibling modules
    compat = compat_dir()
    if compat is not None and compat not in sys.path:  # last: an installed one wins
        sys.path.append(compat)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return Outcome(Status.ERROR, f"{scorer} cannot be loaded as a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return Outcome(
            Status.ERROR,
            f"{scorer}:{exc.lineno}: syntax error in the scorer: {exc.msg}; fix the scorer file",
            artifacts=_tb(_traceback(exc)),
        )
    except BaseException as exc:
        outcome = _failure(exc, f"importing {scorer}", 0)
        if outcome.status == Status.ERROR and not isinstance(exc, SystemExit):
            fix = _missing_module(exc) or "fix the scorer"
            outcome.reason = f"importing {scorer} raised {_describe(exc)}; {fix}"
        return outcome
    return module


def _passes(value: float, threshold: float, maximize: bool) -> bool:
    return value >= threshold if maximize else value <= threshold


def evaluate_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the scorer's cascade on the candidate; always returns an envelope dict."""
    scorer = str(spec.get("scorer", "scorer.py"))
    program = str(spec["program"])
    stages = [(str(fn), thr) for fn, thr in spec.get("stages", [["evaluate", None]])]
    objective = str(spec.get("objective", "score"))
    maximize = bool(spec.get("maximize", True))
    memory_mb = int(spec.get("memory_mb", 0))
    fallback = str(spec.get("fallback", "none"))

    # The scorer runs in the problem folder's (read-only) copy, as OpenEvolve's
    # do in theirs, so a relative path reaches its data; the candidate's
    # processes keep the scratch folder (the zygote was forked there).
    with contextlib.suppress(OSError):
        os.chdir(str(spec["work_dir"]))
    if [function for function, _ in stages] == [_shinka.SCRIPT_STAGE]:  # ShinkaEvolve's way
        try:
            path = os.path.join(str(spec["work_dir"]), scorer)
            outcome = _shinka.run_script(path, program, compat_dir())
        except BaseException as exc:
            outcome = _failure(exc, f"{scorer} (run as a script)", memory_mb)
        return envelope.make_envelope(
            outcome.status, outcome.reason, outcome.metrics, outcome.artifacts, 1
        )
    module = _load_scorer(str(spec["work_dir"]), scorer)
    if isinstance(module, Outcome):
        return envelope.make_envelope(module.status, module.reason, artifacts=module.artifacts)
    metrics: dict[str, float] = {}
    artifacts: dict[str, str] = {}
    flags: set[str] = set()  # metrics returned as booleans
    for index, (function, threshold) in enumerate(stages):
        where = f"{scorer}:{function}"
        target = getattr(module, function, None)
        if not callable(target):
            names = [n for n in vars(module) if n.startswith("evaluate")]
            return envelope.make_envelope(
                Status.ERROR,
                f"{scorer} defines no function {function}(program_path) "
                f"(it has: {', '.join(names) or 'none'}); define it, or fix the stage list",
                metrics,
                artifacts,
                index,
            )
        try:
            outcome = normalize(target(program), where)
        except BaseException as exc:
            outcome = _failure(exc, where + "()", memory_mb)
        metrics.update(outcome.metrics)
        artifacts.update(outcome.artifacts)
        flags |= outcome.booleans
        if outcome.status != Status.OK:
            return envelope.make_envelope(
                outcome.status, outcome.reason, metrics, artifacts, index + 1
            )
        if threshold is None or index == len(stages) - 1:
            continue
        value = outcome.metrics.get(objective)
        if value is None and fallback == "mean":  # OpenEvolve's threshold rule
            numbers = [v for k, v in outcome.metrics.items() if k != "error"]
            value = sum(numbers) / len(numbers) if numbers else None
        if value is None:
            artifacts["cascade"] = (
                f"stopped after stage {index + 1}: {function}() returned no {objective!r} "
                f"metric to compare with the threshold {threshold:g}"
            )
            return _finish(metrics, artifacts, index + 1, spec, flags)
        if not _passes(value, float(threshold), maximize):
            side = "below" if maximize else "above"
            artifacts["cascade"] = (
                f"stopped after stage {index + 1}: {objective}={value:g} is {side} "
                f"the threshold {threshold:g}"
            )
            return _finish(metrics, artifacts, index + 1, spec, flags)
    return _finish(metrics, artifacts, len(stages), spec, flags)


def _finish(
    metrics: dict[str, float],
    artifacts: dict[str, str],
    reached: int,
    spec: dict[str, Any],
    flags: set[str],
) -> dict[str, Any]:
    """The OK envelope; without the objective, under ``fallback = "mean"``, the
    objective is OpenEvolve's fitness rule made explicit: the mean of the numeric
    metrics, flags (booleans) and feature metrics left out, noted in an artifact."""
    objective = str(spec.get("objective", "score"))
    if objective not in metrics and spec.get("fallback") == "mean":
        left_out = set(spec.get("features", [])) | flags
        used = sorted(k for k in metrics if k not in left_out)
        if used:
            metrics[objective] = sum(metrics[k] for k in used) / len(used)
            artifacts["objective"] = (
                f"{objective}: not returned; the mean of {', '.join(used)} (OpenEvolve's "
                "rule: flags and feature metrics left out)"
            )
    return envelope.make_envelope(Status.OK, "", metrics, artifacts, reached)


def compat_dir() -> str | None:
    """The folder of stand-ins for what peers' scorers import from their
    frameworks (``evaluators/compat``, see its README), as this job sees it: in
    the evaluators copy on sys.path (a fork server's modules may have been loaded
    from a path the job's mount namespace hides)."""
    for entry in [*sys.path, os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]:
        if not entry or not os.path.isabs(entry):
            continue  # never a relative entry: it follows the working directory
        folder = os.path.join(entry, "evaluators", "compat")
        if os.path.isdir(os.path.join(folder, "openevolve")):
            return folder
    return None


def _send(fd: int, result: dict[str, Any]) -> None:
    """Write the envelope (clipped to budget) to the result fd."""
    result["artifacts"] = envelope.fit_artifacts(result["artifacts"], _ENVELOPE_BUDGET)
    data = envelope.encode_envelope(result)
    while data:
        data = data[os.write(fd, data) :]


def serve(spec: dict[str, Any], result_fd: int) -> int:
    """Harness entry in an already isolated process: evaluate, send, return an exit code."""
    reserve = bytearray(1 << 20)  # released on MemoryError so the envelope can still be built
    _channel.claim(result_fd)
    sys.dont_write_bytecode = True
    sys.argv = [str(spec.get("program", ""))]
    if not hasattr(builtins, "exit"):  # started with -S: give candidates the usual exit()
        builtins.exit = builtins.quit = sys.exit  # type: ignore[assignment]
    try:
        # Before the scorer loads anything: candidates are forked from this clean
        # process, never from the scorer's (see evaluators._zygote).
        start_zygote()
        # The job's filter (under the supervisor), after the zygote's own: a
        # process and its children share one seccomp listener.
        _listeners.filter_job()
        result = evaluate_spec(spec)
    except MemoryError:
        del reserve
        result = envelope.make_envelope(Status.OOM, "the harness ran out of memory")
    except BaseException as exc:
        result = envelope.make_envelope(
            Status.ERROR, f"harness failure: {_describe(exc)}", artifacts=_tb(_traceback(exc))
        )
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        _send(result_fd, result)
    except OSError:
        return 3
    return 0


def main(argv: list[str] | None = None) -> None:
    """CLI: ``python -m evaluators.harness --spec spec.json --result-fd N``."""
    import argparse  # only on this path: the supervisor forks straight into serve()

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True, help="path of the JSON spec")
    parser.add_argument("--result-fd", type=int, required=True, help="fd to write the envelope")
    args = parser.parse_args(argv)
    with open(args.spec, encoding="utf-8") as f:
        spec = json.load(f)
    code = serve(spec, args.result_fd)
    os._exit(code)  # skip atexit handlers a candidate may have registered


if __name__ == "__main__":
    main()
