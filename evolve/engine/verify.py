"""`evolve verify`: re-check a run's result before anyone relies on it.

Three checks, each of which can fail on its own:

* the problem files in ``RUN/problem/`` are the ones the run pinned
  (``evolve.store.pins``: run.json's hashes, as accepted changes replaced them);
* the record hash chain holds (``evolve.store.chain``: no program record was
  edited, deleted, reordered or cut off the end);
* the best K programs, scored again R times each in fresh sandboxes (a new
  sandbox per repeat: fresh containers with Docker), give what the run
  recorded: exactly, when the repeats agree with each other (a deterministic
  scorer); within three standard deviations of their mean when they do not
  (a noisy one), the mean and spread reported.

When the problem's scorer defines ``evaluate_holdout``, each re-scored program
is also scored once on the held-out data (a fresh sandbox), shown beside the
repeats and in the certificate, with what the run recorded for it (a
``holdout`` event, if it was ever a new best). It informs; it is no verdict.

And a certificate for the best program: its code and hashes, the problem's
file hashes, the chain head, the sandbox (with Docker, the image's content id),
the package versions and every repeat's score, in a JSON file kept apart from
the run so the head it pins can be compared later.
"""

from __future__ import annotations

import hashlib
import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from evolve.config import Problem
from evolve.config.judge import JUDGED_SCORE
from evolve.config.overrides import load_as_run
from evolve.engine.runner import sandbox_config
from evolve.engine.scoring import score_result
from evolve.errors import SandboxUnavailable, UsageError
from evolve.records import EventKind
from evolve.store import RunStore
from evolve.store.chain import ChainReport
from evolve.store.pins import changes, pin_files, pinned_files
from sandboxes.docker.layers import scoring_image_digest
from sandboxes.factory import SandboxKind, make_sandbox
from sandboxes.job import EvalJob, EvalResult, SandboxSetupError

__all__ = ["Holdout", "Rescore", "Verification", "verify_run"]

PACKAGES = ("numpy", "pyarrow", "ray", "openai", "docker", "networkx")
NOISE_SIGMAS = 3.0  # a noisy scorer's recorded score may sit this far from the mean


@dataclass(frozen=True)
class Holdout:
    """One program scored once by the held-out scorer, and what the run recorded."""

    status: str
    score: float | None
    metrics: dict[str, float]
    reason: str = ""
    recorded_status: str | None = None  # the run's holdout event, if it had one
    recorded_score: float | None = None


@dataclass(frozen=True)
class Rescore:
    """One program scored again."""

    program_id: str
    recorded_status: str
    recorded_score: float | None
    statuses: list[str]
    scores: list[float | None]
    verdict: str  # "exact", "within noise", or "mismatch"
    detail: str = ""
    # The held-out scorer's result (problems with evaluate_holdout; else None).
    holdout: Holdout | None = None

    @property
    def ok(self) -> bool:
        return self.verdict != "mismatch"


@dataclass
class Verification:
    """Everything ``verify_run`` found; ``ok`` only if every check passed."""

    run_dir: Path
    problem_changes: list[str] = field(default_factory=list)  # files not as pinned
    accepted_changes: list[str] = field(default_factory=list)  # recorded, with reasons
    chain: ChainReport | None = None
    rescores: list[Rescore] = field(default_factory=list)
    certificate: Path | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.problem_changes
            and self.chain is not None
            and self.chain.ok
            and all(r.ok for r in self.rescores)
        )


def verify_run(
    run_dir: Path,
    top: int = 3,
    repeats: int = 2,
    sandbox: SandboxKind | None = None,
    certificate: Path | None = None,
) -> Verification:
    """Check ``run_dir`` (see the module docstring); writes the certificate to
    ``certificate`` (default ``RUN/verify/certificate-<id>.json``)."""
    if top < 0 or repeats < 1:
        raise UsageError(f"--top must be >= 0 and --repeats >= 1, got {top} and {repeats}")
    store = RunStore.open(run_dir)
    found = Verification(run_dir=Path(run_dir))
    events = store.load_events()
    pinned = pinned_files(store.settings, events)
    now = pin_files(store.problem_dir)
    if pinned is None:
        found.problem_changes.append("run.json pins no problem files (a run made before pins)")
    else:
        found.problem_changes += [c.describe(store.problem_dir) for c in changes(pinned, now)]
    found.accepted_changes = [
        f"iteration {e['iteration']}: "
        f"{', '.join(c['path'] for c in e['payload']['changes'])} ({e['payload']['reason']})"
        for e in events
        if e["kind"] == EventKind.PROBLEM_CHANGED
    ]
    found.chain = store.check_chain()
    # as the run read it: its config file, limit flags and overlay (run.json)
    problem = load_as_run(store.problem_dir, store.settings)
    if problem.spec.objective.metric == JUDGED_SCORE:
        raise UsageError(
            f"{run_dir}: this run ranks by judged_score, which an LLM judge adds after the "
            "scorer; verify re-runs the scorer alone and cannot recompute it. Re-check the "
            f"scorer's metric instead: compare `evolve eval` of the exported best with its "
            f"recorded {problem.spec.judge.base_metric or 'base'} metric"
        )
    kind: SandboxKind = sandbox or store.settings.get("sandbox") or problem.spec.sandbox.kind
    best = _best_rows(store, top)
    recorded = _recorded_holdouts(events)
    for row in best:
        found.rescores.append(_rescore(store, problem, kind, row, repeats, recorded))
    if best:
        path = certificate or Path(run_dir) / "verify" / f"certificate-{best[0]['id']}.json"
        _write_certificate(path, store, problem, kind, best[0], found, now)
        found.certificate = path
    return found


def _best_rows(store: RunStore, top: int) -> list[dict[str, Any]]:
    rows = [
        r
        for r in store.read_table("programs").to_pylist()
        if r["duplicate_of"] is None and r["fitness"] is not None
    ]
    rows.sort(key=lambda r: (-r["fitness"], r["iteration"]))
    return rows[:top]


def _recorded_holdouts(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """program id -> the payload of the run's last holdout event for it."""
    return {
        e["payload"]["program_id"]: e["payload"] for e in events if e["kind"] == EventKind.HOLDOUT
    }


def _run_fresh(config: Any, job: EvalJob) -> EvalResult:
    """``job`` in a sandbox of its own (new containers with Docker)."""
    try:
        sandbox = make_sandbox(config, concurrency=1)
    except SandboxSetupError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    try:
        return sandbox.run(job)
    finally:
        sandbox.close()


def _rescore(
    store: RunStore,
    problem: Problem,
    kind: SandboxKind,
    row: dict[str, Any],
    repeats: int,
    recorded: dict[str, dict[str, Any]],
) -> Rescore:
    code = store.get_program(row["id"]).code  # hash-checked against its code_hash
    statuses: list[str] = []
    scores: list[float | None] = []
    config = sandbox_config(problem, kind)
    for repeat in range(repeats):
        result = _run_fresh(config, problem.make_job(f"verify-{row['id']}-{repeat}", code))
        scored = score_result(result, problem.spec.objective)
        statuses.append(str(scored.status))
        scores.append(scored.score)
    verdict, detail = _verdict(row["status"], row["score"], statuses, scores)
    holdout = None
    if problem.holdout:
        job = problem.make_job(f"verify-{row['id']}-holdout", code, entry="holdout")
        result = _run_fresh(config, job)
        scored = score_result(result, problem.spec.objective)
        before = recorded.get(row["id"], {})
        holdout = Holdout(
            status=str(scored.status),
            score=scored.score,
            metrics=dict(result.metrics),
            reason=scored.reason,
            recorded_status=before.get("status"),
            recorded_score=before.get("score"),
        )
    return Rescore(
        row["id"], row["status"], row["score"], statuses, scores, verdict, detail, holdout
    )


def _verdict(
    status: str, score: float | None, statuses: list[str], scores: list[float | None]
) -> tuple[str, str]:
    if any(s != status for s in statuses):
        return "mismatch", f"recorded {status}, scored {', '.join(statuses)}"
    if score is None or any(s is None for s in scores):
        return ("exact", "") if all(s == score for s in scores) else ("mismatch", "")
    values = [float(s) for s in scores if s is not None]
    if all(v == score for v in values):
        return "exact", ""
    if len(set(values)) == 1:  # the repeats agree with each other, not with the record
        return "mismatch", f"recorded {score!r}, every repeat gives {values[0]!r}"
    mean, spread = statistics.fmean(values), statistics.stdev(values)
    detail = f"mean {mean:.6g}, standard deviation {spread:.3g} over {len(values)} repeats"
    if abs(score - mean) <= NOISE_SIGMAS * spread:
        return "within noise", detail
    return "mismatch", f"recorded {score!r} is over {NOISE_SIGMAS:g} deviations from the {detail}"


def _write_certificate(
    path: Path,
    store: RunStore,
    problem: Problem,
    kind: SandboxKind,
    row: dict[str, Any],
    found: Verification,
    pins: dict[str, str],
) -> None:
    program = store.get_program(row["id"])
    rescore = found.rescores[0]
    checkpoint = store.load_checkpoint(database=False) or {}
    sandbox: dict[str, Any] = {"kind": kind}
    requirements = problem.spec.sandbox.requirements
    if requirements:
        sandbox["requirements"] = list(requirements)
    if kind == "docker":
        sandbox["image"] = problem.spec.sandbox.image
        sandbox["image_id"] = scoring_image_digest(problem.spec.sandbox.image, requirements)
    document = {
        "certificate": "evolve verify",
        "created_at": time.time(),
        "run": {
            "directory": str(store.root),
            "created_at": store.settings.get("created_at"),
            "problem": store.settings.get("problem"),
            "chain_head": checkpoint.get("chain_head"),
            "chain_ok": bool(found.chain and found.chain.ok),
        },
        "program": {
            "id": program.id,
            "code": program.code,
            "code_sha256": hashlib.sha256(program.code.encode("utf-8")).hexdigest(),
            "code_hash": program.code_hash,
            "record_hash": program.record_hash,
            "status": row["status"],
            "score": row["score"],
            "metrics": json.loads(row["metrics"]),
        },
        "problem_files": pins,
        "problem_as_pinned": not found.problem_changes,
        "accepted_problem_changes": found.accepted_changes,
        "objective": {
            "metric": problem.spec.objective.metric,
            "direction": problem.spec.objective.direction,
        },
        "sandbox": sandbox,
        "repeats": {k: v for k, v in asdict(rescore).items() if k != "holdout"},
        # the held-out scorer's result, and what the run recorded (None: no held-out scorer)
        "holdout": None if rescore.holdout is None else asdict(rescore.holdout),
        "versions": {
            "evolve": _version("evolve"),
            "python": platform.python_version(),
            "platform": platform.platform(),
            **{name: _version(name) for name in PACKAGES},
        },
        "argv": sys.argv,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
