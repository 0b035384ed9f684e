"""A problem's scorer packages: named in problem.toml or requirements.txt,
installed once per machine (a cached folder for the process sandbox, an image
layer for Docker), never replacing what the sandbox already has.

The package installed here is a wheel this test writes (pure Python, depending
on numpy), found by pip through ``PIP_FIND_LINKS``: real pip, real installs, no
download beyond the indexes pip is configured with."""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evolve.config import load_problem
from evolve.errors import ConfigError, ProblemError
from sandboxes import packages
from sandboxes.docker.layers import PACKAGES_REPOSITORY
from sandboxes.docker.sandbox import DockerSandbox
from sandboxes.factory import SandboxConfig
from sandboxes.job import Status
from sandboxes.packages import PackageInstallError, ensure_local_packages, parse_requirements
from sandboxes.process import ProcessSandbox

PROBE = "evolve-probe-pkg"
PROBE_MODULE = "evolve_probe_pkg"


def _wheel(folder: Path, version: str, requires: str = "numpy") -> Path:
    """A minimal, valid pure-Python wheel of PROBE."""
    info = f"{PROBE_MODULE}-{version}.dist-info"
    files = {
        f"{PROBE_MODULE}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {PROBE}\nVersion: {version}\n"
            + (f"Requires-Dist: {requires}\n" if requires else "")
        ),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    path = folder / f"{PROBE_MODULE}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    _wheel(folder, "1.0")
    _wheel(folder, "2.0", requires="numpy<1")  # never installable next to numpy 2
    return folder


@pytest.fixture
def probe_index(wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip finds the probe wheels; the cache is this test's own."""
    links = " ".join(filter(None, [str(wheels), os.environ.get("PIP_FIND_LINKS", "")]))
    monkeypatch.setenv("PIP_FIND_LINKS", links)
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVOLVE_CACHE_DIR", str(cache))
    return cache


# OpenEvolve's evaluators often run the candidate as `python program.py`: a
# Python the scorer starts must see the scorer's packages too.
IN_A_SUBPROCESS = """
import subprocess, sys

def evaluate(program_path):
    done = subprocess.run([sys.executable, "-c", "import evolve_probe_pkg"], capture_output=True)
    return {"score": float(done.returncode == 0)}
"""


def _problem(root: Path, toml_extra: str = "", requirements: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "problem.toml").write_text(f'name = "needs-a-package"\n{toml_extra}')
    (root / "initial.py").write_text("# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n")
    (root / "scorer.py").write_text(
        "import evolve_probe_pkg\n\n"
        "def evaluate(program_path):\n"
        "    return {'score': float(evolve_probe_pkg.VERSION)}\n"
    )
    if requirements is not None:
        (root / "requirements.txt").write_text(requirements)
    return root


# -- naming them ---------------------------------------------------------------------


def test_requirement_lines_are_read_as_pip_reads_them() -> None:
    lines = [
        "# the scorer's packages",
        "",
        "scipy>=1.7.0  # optimisers",
        "jax[cpu]>=0.4.20",
        'tomli; python_version < "3.11"',
        "openevolve",  # provided by evolve's compat layer, never installed
    ]
    assert parse_requirements(lines, "r.txt") == (
        "scipy>=1.7.0",
        "jax[cpu]>=0.4.20",
        'tomli; python_version < "3.11"',
    )


@pytest.mark.parametrize("line", ["-r other.txt", "--index-url http://x", "-e ."])
def test_a_pip_option_is_refused_with_its_line(line: str) -> None:
    with pytest.raises(ValueError, match=r"r\.txt:2: .* is a pip option"):
        parse_requirements(["numpy", line], "r.txt")


@given(st.text(max_size=40))
def test_any_line_is_a_requirement_or_a_clear_error(line: str) -> None:
    try:
        found = parse_requirements([line], "r.txt")
    except ValueError as exc:
        assert str(exc).startswith("r.txt:1: ")
    else:
        assert len(found) <= 1


def test_problem_toml_and_requirements_txt_name_the_packages(tmp_path: Path) -> None:
    named = '[sandbox]\nrequirements = ["evolve-probe-pkg"]\n'
    toml = load_problem(_problem(tmp_path / "a", named))
    assert toml.spec.sandbox.requirements == (PROBE,)
    txt = load_problem(_problem(tmp_path / "b", requirements="evolve-probe-pkg==1.0\n"))
    assert txt.spec.sandbox.requirements == (f"{PROBE}==1.0",)
    with pytest.raises(ProblemError, match="named twice"):
        load_problem(
            _problem(tmp_path / "c", '[sandbox]\nrequirements = ["x"]\n', requirements="y\n")
        )
    with pytest.raises(ProblemError, match=r"requirements\.txt:1: .*pip option"):
        load_problem(_problem(tmp_path / "d", requirements="-e ../somewhere\n"))
    with pytest.raises(ConfigError, match=r"problem\.toml"):
        load_problem(_problem(tmp_path / "e", '[sandbox]\nrequirements = ["not a name!"]\n'))


# -- the process sandbox --------------------------------------------------------------


@pytest.fixture
def probe_box(probe_index: Path) -> Iterator[ProcessSandbox]:
    box = ProcessSandbox(requirements=(f"{PROBE}==1.0",))
    yield box
    box.close()


def test_the_process_sandbox_installs_them_once_for_the_problem(
    probe_box: ProcessSandbox, probe_index: Path, tmp_path: Path
) -> None:
    problem = load_problem(_problem(tmp_path / "p", requirements=f"{PROBE}==1.0\n"))
    result = probe_box.run(problem.make_job("p", problem.initial_code))
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] == 1.0
    (folder,) = [p for p in (probe_index / "scorer-packages").iterdir() if p.is_dir()]
    # numpy came with the probe as its dependency: the sandbox has it, so only the probe stays
    assert sorted(p.name for p in folder.iterdir()) == [
        ".complete",
        PROBE_MODULE,
        f"{PROBE_MODULE}-1.0.dist-info",
    ]
    (problem.root / "scorer.py").write_text(IN_A_SUBPROCESS)
    started = load_problem(problem.root)
    child = probe_box.run(started.make_job("p", started.initial_code))
    assert child.status == Status.OK and child.metrics["score"] == 1.0, child
    modes = [p.stat().st_mode for p in [folder, *folder.rglob("*")]]
    assert all(mode & 0o222 == 0 and mode & 0o444 == 0o444 for mode in modes)  # shared: read-only
    stamp = (folder / ".complete").stat().st_mtime_ns
    again = ProcessSandbox(requirements=(f"{PROBE}==1.0",))  # a second run, or a Ray worker
    try:
        assert again._sys_path[-1] == str(folder)  # the same folder, not installed again
        assert (folder / ".complete").stat().st_mtime_ns == stamp
    finally:
        again.close()


def test_without_them_the_error_names_the_key(sandbox: ProcessSandbox, tmp_path: Path) -> None:
    problem = load_problem(_problem(tmp_path / "p"))
    result = sandbox.run(problem.make_job("p", problem.initial_code))
    assert result.status == Status.ERROR
    assert f'[sandbox] requirements = ["{PROBE_MODULE}"]' in result.reason
    assert "requirements.txt" in result.reason


def test_a_requirement_that_would_replace_a_sandbox_package_is_an_error(
    probe_index: Path,
) -> None:
    with pytest.raises(PackageInstallError) as caught:
        ensure_local_packages((f"{PROBE}==2.0",), sys.path, "requirements.txt")
    message = str(caught.value)
    assert "requirements.txt" in message and f"{PROBE}==2.0" in message
    assert not list((probe_index / "scorer-packages").glob("*/.complete"))  # nothing half-made


def test_a_package_pip_cannot_find_says_so(probe_index: Path) -> None:
    with pytest.raises(PackageInstallError, match="evolve-no-such-package-x"):
        packages.ensure_local_packages(("evolve-no-such-package-x==9.9",), sys.path, "t")


# -- the Docker sandbox ---------------------------------------------------------------


def test_the_docker_sandbox_gets_them_in_an_image_layer(probe_index: Path, tmp_path: Path) -> None:
    problem = load_problem(_problem(tmp_path / "p", requirements=f"{PROBE}==1.0\n"))
    box = DockerSandbox(max_containers=1, requirements=problem.spec.sandbox.requirements)
    try:
        assert box.image.startswith(f"{PACKAGES_REPOSITORY}:")
        result = box.run(problem.make_job("p", problem.initial_code))
        assert result.status == Status.OK, result.reason
        assert result.metrics["score"] == 1.0
        (problem.root / "scorer.py").write_text(IN_A_SUBPROCESS)
        started = load_problem(problem.root)
        child = box.run(started.make_job("p", started.initial_code))
        assert child.status == Status.OK and child.metrics["score"] == 1.0, child
        again = DockerSandbox(max_containers=1, requirements=problem.spec.sandbox.requirements)
        assert again.image == box.image  # the same layer, not built twice
        again.close()
    finally:
        box.close()
    # what the image has already is not a layer: numpy alone is the image itself
    plain = DockerSandbox(max_containers=1, requirements=("numpy",))
    try:
        assert (
            plain._client.images.get(plain.image).id
            == plain._client.images.get(SandboxConfig().image).id
        )
    finally:
        plain.close()
