"""The scorer's packages as an image layer over the sandbox image.

``packages_image(client, image, requirements)`` returns an image that is
``image`` plus the packages a problem names (:mod:`sandboxes.packages`), tagged
``evolve-sandbox-packages:<hash of the image id and the requirements>``, built
once per machine. The wheels are fetched by this machine's pip (containers
have no network, and pip's index configuration lives here), for the image's
Python and platform, binaries only, so nothing compiles and no build tools
enter the image; the image's own packages are read from the image itself and
are kept as they are. When the image already has everything, it is used as is.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import docker
from packaging.utils import canonicalize_name

from sandboxes.docker.build_offline import wheel_platforms
from sandboxes.docker.image import ImageError, build_over, docker_client, resolve_image
from sandboxes.packages import install_packages, requirements_hash

__all__ = [
    "CONTAINER_PYTHONPATH",
    "PACKAGES_DIR",
    "PACKAGES_REPOSITORY",
    "packages_image",
    "scoring_image_digest",
]

log = logging.getLogger(__name__)

PACKAGES_REPOSITORY = "evolve-sandbox-packages"
PACKAGES_DIR = "/opt/scorer-packages"
# The import path of everything run in a container: the harness, then the
# scorer's packages (absent unless the image has a packages layer); the
# interpreter's own site-packages come after PYTHONPATH.
CONTAINER_PYTHONPATH = f"/opt/evolve:{PACKAGES_DIR}"
_DOCKERFILE = f"""ARG BASE
FROM ${{BASE}}
COPY packages {PACKAGES_DIR}
RUN python3 -m compileall -q {PACKAGES_DIR} >/dev/null 2>&1; true
"""
_LIST_INSTALLED = (
    "import importlib.metadata as m, json, sys\n"
    "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'dists': "
    "{d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}}))"
)


def _image_python(client: Any, image: str) -> tuple[str, dict[str, str]]:
    """The image's Python version and its installed distributions, read by
    running its interpreter once (no network, removed after)."""
    try:
        out = client.containers.run(
            image,
            ["python3", "-c", _LIST_INSTALLED],
            network_disabled=True,
            remove=True,
            environment={"PYTHONPATH": CONTAINER_PYTHONPATH},
        )
        found = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
        dists = {str(canonicalize_name(str(k))): str(v) for k, v in found["dists"].items()}
        return str(found["python"]), dists
    except (docker.errors.DockerException, ValueError, KeyError, IndexError) as exc:
        raise ImageError(f"could not list the Python packages of image {image}: {exc}") from exc


def packages_image(client: Any, image: str, requirements: Sequence[str]) -> str:
    """``image`` with ``requirements`` installed in a layer (built if missing)."""
    if not requirements:
        return image
    image_id = str(client.images.get(image).id)
    key = requirements_hash(requirements, {"image": image_id, "machine": platform.machine()})
    tag = f"{PACKAGES_REPOSITORY}:{key}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    python, installed = _image_python(client, image)
    with tempfile.TemporaryDirectory(prefix="evolve-packages-") as tmp:
        context = Path(tmp)
        packages = context / "packages"
        pip_args = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp"]
        for platform_tag in wheel_platforms():
            pip_args += ["--platform", platform_tag]
        source = f"[sandbox] requirements, for the image {image}"
        install_packages(requirements, packages, installed, pip_args, source)
        if not any(packages.iterdir()):
            log.info("image %s already has every scorer package: used as is", image)
            client.images.get(image).tag(PACKAGES_REPOSITORY, key)  # not asked again
            return tag
        label = json.dumps(" ".join(requirements))  # a JSON string is a Dockerfile string
        dockerfile = _DOCKERFILE + f"LABEL org.evolve.scorer-packages={label}\n"
        (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        build_over(client, context, image, tag)
        shutil.rmtree(packages, ignore_errors=True)
    log.info("sandbox image with the scorer's packages: %s", tag)
    return tag


def scoring_image_digest(name: str, requirements: Sequence[str], client: Any = None) -> str:
    """The content id of the image a problem's jobs run in: ``name`` as a
    problem names it, with its scorer packages' layer (what a certificate records)."""
    client = client or docker_client()
    return str(
        client.images.get(packages_image(client, resolve_image(name, client), requirements)).id
    )
