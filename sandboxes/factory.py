"""Choosing a sandbox backend: the ``[sandbox]`` table of problem.toml and the
one function that builds a backend from it.

The engine (local executor, Ray workers, ``evolve eval``) never names a backend
class: it hands over a ``SandboxConfig``, which is small, frozen and picklable,
so a Ray worker builds the same backend on its own node from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sandboxes.docker.sandbox import DockerSandbox
from sandboxes.job import Sandbox
from sandboxes.packages import parse_requirements
from sandboxes.process import ProcessSandbox

__all__ = ["SANDBOX_KINDS", "SandboxConfig", "SandboxKind", "make_sandbox"]

SandboxKind = Literal["process", "docker"]
SANDBOX_KINDS: tuple[SandboxKind, ...] = ("process", "docker")


@dataclass(frozen=True)
class SandboxConfig:
    """Where candidates run: ``kind`` (a backend), for Docker its image, and the
    scorer's packages either backend installs for the problem
    (:mod:`sandboxes.packages`; a folder's requirements.txt lands here too)."""

    kind: SandboxKind = "process"
    image: str = "evolve-sandbox:latest"
    requirements: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SANDBOX_KINDS:
            raise ValueError(
                f"unknown sandbox '{self.kind}'; available: {', '.join(SANDBOX_KINDS)}"
            )
        checked = parse_requirements(self.requirements, "[sandbox] requirements")
        object.__setattr__(self, "requirements", checked)


def make_sandbox(
    config: SandboxConfig,
    concurrency: int = 2,
    run_label: str = "",
    gpu_ids: list[str] | None = None,
) -> Sandbox:
    """The backend ``config`` names.

    ``concurrency`` (warm containers), ``run_label`` (a container label naming
    the run) and ``gpu_ids`` (the devices this worker was given) matter to
    Docker only.
    """
    if config.kind == "docker":
        return DockerSandbox(
            image=config.image,
            max_containers=concurrency,
            run_label=run_label,
            gpu_ids=gpu_ids,
            requirements=config.requirements,
        )
    return ProcessSandbox(requirements=config.requirements)
