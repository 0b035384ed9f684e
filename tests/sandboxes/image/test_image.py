"""The sandbox image: hash tags, offline-build helpers and what the built image holds.

The image itself is built by `make test` (``evolve sandbox build``) before
pytest runs; these tests use it for real and fail (not skip) without a daemon.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes.docker import build_offline, image


@pytest.fixture(scope="module")
def client():
    return image.docker_client()


@pytest.fixture(scope="module")
def tag(client) -> str:
    return image.ensure_image(client)


def test_tag_is_stable_and_names_the_repository():
    assert image.image_tag() == image.image_tag()
    repository, _, digest = image.image_tag().partition(":")
    assert repository == "evolve-sandbox"
    assert len(digest) == 16 and int(digest, 16) >= 0


def test_tag_changes_when_the_harness_changes(tmp_path, monkeypatch):
    copy = tmp_path / "evaluators"
    shutil.copytree(image.EVALUATORS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(image, "EVALUATORS", copy)
    before = image.image_tag()
    base_before = image.base_tag()
    (copy / "harness.py").write_text((copy / "harness.py").read_text() + "\n# changed\n")
    assert image.image_tag() != before
    # The base layer (Python + packages) does not depend on the harness.
    assert image.base_tag() == base_before


def test_base_tag_changes_with_the_requirements(tmp_path, monkeypatch):
    here = tmp_path / "docker"
    shutil.copytree(image.HERE, here, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(image, "HERE", here)
    before = image.base_tag()
    (here / "requirements.txt").write_text("numpy==2.4.6\n")
    assert image.base_tag() != before


def test_mirror_comes_from_the_environment_first(monkeypatch):
    monkeypatch.setenv("EVOLVE_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert build_offline.debian_mirror() == "http://mirror.example/debian"


def test_mirror_is_a_debian_archive(monkeypatch):
    monkeypatch.delenv("EVOLVE_DEBIAN_MIRROR", raising=False)
    mirror = build_offline.debian_mirror()
    assert mirror.startswith(("http://", "https://"))
    assert mirror.endswith("/debian")


def test_wheel_platforms_cover_the_bookworm_glibc():
    tags = build_offline.wheel_platforms()
    assert any(t.startswith("manylinux_2_36_") for t in tags)
    assert any(t.startswith("manylinux2014_") for t in tags)


def test_image_is_built_and_tagged_latest(client, tag):
    assert tag == image.image_tag()
    assert client.images.get(tag).id == client.images.get(image.DEFAULT_IMAGE).id


def _in_image(client, tag: str, code: str, user: str = "61000") -> str:
    out = client.containers.run(
        tag,
        ["python3", "-c", code],
        user=user,
        network_mode="none",
        read_only=True,
        remove=True,
        stdout=True,
        stderr=True,
    )
    return out.decode().strip()


def test_image_has_python_311_numpy_scipy_and_the_harness(client, tag):
    out = _in_image(
        client,
        tag,
        "import sys, numpy, scipy.optimize, sympy, yaml, evaluators.supervisor as s;"
        "print(sys.version_info[:2], numpy.__version__, scipy.__version__, sympy.__version__,"
        " yaml.__version__, s.__file__)",
    )
    pins = dict(
        line.split("==")
        for line in (image.HERE / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert out.startswith("(3, 11)")
    assert all(pins[name] in out for name in ("numpy", "scipy", "sympy", "PyYAML"))
    assert out.endswith("/opt/evolve/evaluators/supervisor.py")


def test_image_has_unprivileged_slot_users(client, tag):
    out = _in_image(
        client,
        tag,
        "import pwd, os; u = pwd.getpwuid(os.getuid());"
        "slots = [p for p in pwd.getpwall() if 61000 <= p.pw_uid < 62000];"
        "print(u.pw_name, os.getuid(), len(slots))",
        user="61063",
    )
    assert out == "sandbox63 61063 64"


def test_unknown_image_names_problem_toml_and_the_fix(client):
    with pytest.raises(image.ImageError, match=r"problem.toml \[sandbox\] image"):
        image.resolve_image("evolve-no-such-image:nope", client)


def test_default_image_resolves_to_the_current_tag(client, tag):
    assert image.resolve_image(image.DEFAULT_IMAGE, client) == tag


def test_cli_prints_the_tag_and_builds_nothing_new(tag):
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-m", "evolve.cli", "sandbox", "tag"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == tag
    built = subprocess.run(
        [sys.executable, "-m", "evolve.cli", "sandbox", "build"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    assert tag in built.stdout
