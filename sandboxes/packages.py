"""Scorer packages: what a problem's scorer imports beyond what the sandbox has.

A problem names them (``[sandbox] requirements`` in problem.toml, or a
``requirements.txt`` in its folder, the file OpenEvolve's examples ship). Both
sandboxes install them for that problem only, once, keyed by a hash:

* the process sandbox: a folder under the cache
  (``$EVOLVE_CACHE_DIR``, else ``$XDG_CACHE_HOME/evolve``, else
  ``~/.cache/evolve``) ``scorer-packages/<hash>``, put first on the job's import
  path; the hash covers the requirements, the interpreter and every package it
  already has, so a changed venv gets a fresh folder;
* the Docker sandbox: an image layer over the sandbox image
  (:mod:`sandboxes.docker.layers`), filled by the same function.

What the sandbox already has is never installed twice nor replaced: pip runs
with the sandbox's own packages as constraints (a requirement that asks for
another version of one of them is an error naming both), and the copies it
puts in the folder are removed again, so ``matplotlib`` on a sandbox with numpy
adds matplotlib and its other dependencies only. pip reads its usual
configuration (index, find-links, proxies), so an offline mirror works as it
does for ``pip install``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from sandboxes.job import SandboxSetupError

__all__ = [
    "PackageInstallError",
    "cache_root",
    "ensure_local_packages",
    "install_packages",
    "installed_distributions",
    "merge_requirements",
    "parse_requirements",
    "requirements_hash",
]

log = logging.getLogger(__name__)

_PIP_TAIL_LINES = 25
# Frameworks whose helper modules evolve provides itself (evaluators/compat):
# installing them would bring their LLM stacks for nothing.
PROVIDED = frozenset({"openevolve", "shinka-evolve", "shinka"})


class PackageInstallError(SandboxSetupError):
    """The scorer's packages could not be installed; the message says what pip said."""


def parse_requirements(lines: Iterable[str], source: str) -> tuple[str, ...]:
    """The requirement specifiers of ``lines`` (a requirements.txt or the
    problem.toml list), comments and blank lines dropped, each checked.

    Only specifiers (``name[extras] <op> version ; marker``) are accepted: a pip
    option (``-r``, ``-e``, ``--index-url``) would let a problem folder point
    pip anywhere, so it is an error naming ``source`` and the line."""
    found: list[str] = []
    for number, raw in enumerate(lines, 1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ValueError(
                f"{source}:{number}: {line!r} is a pip option; evolve installs requirement "
                "specifiers only (name, extras, versions, markers): remove the line or put "
                "the package it names there"
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise ValueError(f"{source}:{number}: not a requirement specifier: {exc}") from None
        if canonicalize_name(requirement.name) in PROVIDED:
            log.info("%s: %s is provided by evolve (evaluators/compat)", source, line)
            continue
        found.append(str(requirement))
    return tuple(found)


def merge_requirements(first: Sequence[str], then: Sequence[str]) -> tuple[str, ...]:
    """``first``, then the lines of ``then`` naming a package ``first`` does not."""
    named = {canonicalize_name(Requirement(line).name) for line in first}
    extra = [line for line in then if canonicalize_name(Requirement(line).name) not in named]
    return (*first, *extra)


def installed_distributions(paths: Sequence[str] | None = None) -> dict[str, str]:
    """Canonical name -> version of every distribution on ``paths`` (default:
    this interpreter's import path); the first found wins, as for imports."""
    found: dict[str, str] = {}
    dists = importlib.metadata.distributions(path=list(paths) if paths else sys.path)
    for dist in dists:
        name = dist.metadata["Name"] if dist.metadata else None
        if name and (key := canonicalize_name(name)) not in found:
            found[key] = dist.version
    return found


def requirements_hash(requirements: Sequence[str], context: Mapping[str, object]) -> str:
    """A short hash of the requirements and what they are installed against."""
    text = json.dumps({"requirements": sorted(requirements), **context}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_root() -> Path:
    """Where evolve keeps what it builds once per machine."""
    if os.environ.get("EVOLVE_CACHE_DIR"):
        return Path(os.environ["EVOLVE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "evolve"


def _constraints(installed: Mapping[str, str]) -> str:
    lines = []
    for name, version in sorted(installed.items()):
        with contextlib.suppress(InvalidVersion):
            lines.append(f"{name}=={Version(version)}")
    return "\n".join(lines) + "\n"


def install_packages(
    requirements: Sequence[str],
    target: Path,
    installed: Mapping[str, str],
    pip_args: Sequence[str] = (),
    source: str = "the problem's requirements",
) -> None:
    """pip-install ``requirements`` into ``target`` (a folder to put on an import
    path) against a Python that already has ``installed``: those are pinned as
    they are and their copies removed from ``target`` afterwards."""
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evolve-pip-") as tmp:
        constraints = Path(tmp, "installed.txt")
        constraints.write_text(_constraints(installed), encoding="utf-8")
        cmd = [sys.executable, "-m", "pip", "install", "--no-input", "-q", "--no-compile"]
        cmd += ["--disable-pip-version-check", "--target", str(target)]
        cmd += ["-c", str(constraints), *pip_args, *requirements]
        log.info("installing the scorer's packages (%s): %s", source, " ".join(requirements))
        done = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
        )
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-_PIP_TAIL_LINES:])
        raise PackageInstallError(
            f"installing the scorer's packages from {source} ({', '.join(requirements)}) "
            f"failed (pip exit {done.returncode}). The sandbox already has: "
            f"{_pinned_named(requirements, installed)}; a requirement must accept those "
            f"versions. Fix the requirement or the index pip reads. pip said:\n{tail}"
        )
    _prune(target, set(installed))
    shutil.rmtree(target / "bin", ignore_errors=True)
    for dirpath, _, filenames in os.walk(target):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)


def _pinned_named(requirements: Sequence[str], installed: Mapping[str, str]) -> str:
    named = []
    for line in requirements:
        key = canonicalize_name(Requirement(line).name)
        if key in installed:
            named.append(f"{key} {installed[key]}")
    return ", ".join(named) or "none of them"


def _prune(target: Path, installed: set[str]) -> None:
    """Remove from ``target`` the distributions the sandbox already has (pip's
    ``--target`` installs every dependency again; the constraints made them the
    same versions)."""
    for info in sorted(target.glob("*.dist-info")):
        try:
            name = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
            name = next(
                line.split(":", 1)[1].strip() for line in name.splitlines() if line[:5] == "Name:"
            )
        except (OSError, StopIteration):
            continue
        if canonicalize_name(name) not in installed:
            continue
        record = info / "RECORD"
        lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
        for line in lines:
            path = (target / line.split(",", 1)[0]).resolve()
            if path.is_relative_to(target.resolve()) and path.is_file():
                path.unlink()
        shutil.rmtree(info, ignore_errors=True)
    for dirpath, _, _ in sorted(os.walk(target), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            if Path(dirpath) != target:
                os.rmdir(dirpath)  # only when empty


def _read_only(folder: Path) -> None:
    """Every file and folder under ``folder`` readable by all, writable by none
    (a job's uid never owns them; without root, this stops accidents only)."""
    for dirpath, _, filenames in os.walk(folder):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o444)
        os.chmod(dirpath, 0o555)


def ensure_local_packages(
    requirements: Sequence[str], sys_path: Sequence[str], source: str
) -> str | None:
    """The cached folder holding ``requirements`` for this interpreter (built
    first if missing; concurrent sandboxes wait for one build), or None when
    there is nothing to install."""
    if not requirements:
        return None
    installed = installed_distributions(sys_path)
    context = {
        "python": sys.version,
        "executable": sys.executable,
        "machine": platform.machine(),
        "installed": installed,
    }
    key = requirements_hash(requirements, context)
    root = cache_root() / "scorer-packages"
    root.mkdir(parents=True, exist_ok=True)
    folder = root / key
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in root.glob(f"{key}.*"):  # an install killed part-way (we hold the lock)
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        if not (folder / ".complete").is_file():
            building = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=root))
            try:
                install_packages(requirements, building, installed, source=source)
                (building / ".complete").write_text(json.dumps(sorted(requirements)) + "\n")
                _read_only(building)  # jobs share it: none may change another's packages
                shutil.rmtree(folder, ignore_errors=True)
                building.rename(folder)
            finally:
                shutil.rmtree(building, ignore_errors=True)
            log.info("scorer packages ready in %s", folder)
    return str(folder)
