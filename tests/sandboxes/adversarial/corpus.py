"""What every corpus case uses: run a hostile candidate, then a healthy one on the
same sandbox (it must still score), and check nothing was left behind."""

from __future__ import annotations

import pytest

from sandboxes.docker import reaper
from sandboxes.docker.sandbox import DockerSandbox
from sandboxes.job import EvalResult, Sandbox, Status
from tests.sandboxes.jobs import CALLING_SCORER, IMPORTING_SCORER, make_job

HEALTHY = "def solve():\n    return 42\n"


def run(box: Sandbox, code: str, scorer: str = CALLING_SCORER, **limits: float) -> EvalResult:
    result = box.run(make_job(code, scorer, **limits))
    healthy = box.run(make_job(HEALTHY))
    assert healthy.status == Status.OK and healthy.metrics == {"score": 42.0}, healthy.reason
    if isinstance(box, DockerSandbox):
        # A container the pool replaced (after an OOM, a timeout ...) is gone, not left behind.
        live = containers_of(box)
        assert len(live) <= box.max_containers, [c.short_id for c in live]
    return result


def containers_of(box: DockerSandbox) -> list:
    """The containers this process started for ``box``'s run label (running or not)."""
    labels = [
        f"{reaper.LABEL}=1",
        f"{reaper.OWNER_LABEL}={reaper.owner_id()}",
        f"{reaper.RUN_LABEL}={box._run_label}",
    ]
    return box._client.containers.list(all=True, filters={"label": labels})


def breaches(box: Sandbox, code: str, **limits: float) -> float:
    """Run a probing candidate in-process (so it probes the sandbox, not call_candidate)."""
    result = run(box, code, IMPORTING_SCORER, **limits)
    assert result.status == Status.OK, result.reason
    return result.metrics["score"]


def require(box: Sandbox, guarantee: str) -> None:
    """Skip the case unless ``box`` enforces ``guarantee`` on this host. Where it cannot
    (the process backend without root), the case cannot be blocked, so check first that
    the sandbox says so (it is logged at start-up): an unenforced guarantee must never
    be silent. The skip then shows in the summary, with the gap it stands for."""
    guarantees = box.guarantees()
    if getattr(guarantees, guarantee):
        return
    assert guarantees.missing(), f"{guarantee} is not enforced and not reported"
    pytest.skip(
        f"the {box.name} sandbox does not enforce {guarantee} on this host "
        f"(it reports: {'; '.join(guarantees.missing())})"
    )
