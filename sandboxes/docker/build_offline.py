"""Build the sandbox base image without a registry: debootstrap, wheels, docker import.

Where ``docker pull`` cannot work (no registry, as on air-gapped clusters and
on our CI machines), the base layer is made from Debian's own packages:

1. ``debootstrap --variant=minbase --include=python3`` a bookworm rootfs (its
   python3 is 3.11, the version the harness targets);
2. install the pinned wheels of ``requirements.txt`` from PyPI into its
   ``/usr/local/lib/python3.11/dist-packages`` with this machine's pip
   (``--only-binary`` for the rootfs' platform, so nothing compiles here and no
   build tools end up in the image: Debian's python3-scipy would pull ~600 MB
   of them);
3. drop caches, docs and locales, then ``docker import`` the tree.

The result is tagged like the registry-built base, so the overlay
(``Dockerfile``) is the same either way.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

__all__ = [
    "DEBIAN_SUITE",
    "OfflineBuildError",
    "build_offline_base",
    "debian_mirror",
    "wheel_platforms",
]

log = logging.getLogger(__name__)

DEBIAN_SUITE = "bookworm"
_DEFAULT_MIRROR = "http://deb.debian.org/debian"
_PRUNE = ("var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info")


class OfflineBuildError(RuntimeError):
    """The offline build could not run; the message says what to install or fix."""


def debian_mirror() -> str:
    """The Debian mirror to bootstrap from: $EVOLVE_DEBIAN_MIRROR, this host's apt
    source for Debian's main archive, or deb.debian.org."""
    if os.environ.get("EVOLVE_DEBIAN_MIRROR"):
        return os.environ["EVOLVE_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for url in re.findall(r"https?://\S+", text):
            # Debian's main archive, not debian-security nor a third-party repo.
            if url.rstrip("/").endswith("/debian"):
                return str(url).rstrip("/")
    return _DEFAULT_MIRROR


def _run(cmd: list[str], what: str) -> None:
    log.info("%s: %s", what, " ".join(cmd))
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-25:])
        raise OfflineBuildError(f"{what} failed (exit {done.returncode}):\n{tail}")


def wheel_platforms() -> list[str]:
    """The manylinux tags a bookworm image (glibc 2.36) runs, newest first."""
    machine = platform.machine()
    return [f"manylinux_2_{minor}_{machine}" for minor in (36, 28, 27, 17)] + [
        f"manylinux2014_{machine}"
    ]


def _bootstrap(rootfs: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise OfflineBuildError(
            "debootstrap is not installed: `apt-get install -y debootstrap` (as root), "
            "or build where a registry answers"
        )
    if os.geteuid() != 0:
        raise OfflineBuildError("the offline build runs debootstrap, which needs root")
    mirror = debian_mirror()
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3",
            DEBIAN_SUITE,
            str(rootfs),
            mirror,
        ],
        f"debootstrap {DEBIAN_SUITE} from {mirror}",
    )


def _install_wheels(rootfs: Path, requirements: Path) -> None:
    target = rootfs / "usr/local/lib/python3.11/dist-packages"
    target.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "--no-cache-dir", "--no-compile", "-q"]
    cmd += ["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"]
    for tag in wheel_platforms():
        cmd += ["--platform", tag]
    cmd += ["--target", str(target), "-r", str(requirements)]
    _run(cmd, "installing the sandbox's Python packages from PyPI")


def _prune(rootfs: Path) -> None:
    for rel in _PRUNE:
        path = rootfs / rel
        if path.is_dir():
            shutil.rmtree(path)
            path.mkdir(parents=True)
    locales = rootfs / "usr/share/locale"
    if locales.is_dir():
        shutil.rmtree(locales)


def _import(client: object, rootfs: Path, repository: str, tag: str, workdir: Path) -> None:
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name)
    changes = [
        "ENV PATH=/usr/local/bin:/usr/bin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["/usr/bin/python3"]',
    ]
    client.api.import_image_from_file(  # type: ignore[attr-defined]
        str(archive), repository=repository, tag=tag, changes=changes
    )


def build_offline_base(client: object, repository: str, tag: str, requirements: Path) -> None:
    """Create ``repository:tag`` from Debian packages and PyPI wheels (no registry)."""
    with tempfile.TemporaryDirectory(prefix="evolve-rootfs-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        rootfs = workdir / "rootfs"
        rootfs.mkdir()
        _bootstrap(rootfs)
        _install_wheels(rootfs, requirements)
        _prune(rootfs)
        _import(client, rootfs, repository, tag, workdir)
