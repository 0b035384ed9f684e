"""One hardened sandbox container with a resident job server inside.

The container's main process is :mod:`evaluators.container_server`. The host
reaches it over a unix socket in a host directory bind-mounted at ``/ctl``
(mode 0700: the candidate, another uid, cannot even see it) and sends it jobs
exactly as it sends them to the process sandbox's fork server: a JSON spec
plus a reply socket passed with SCM_RIGHTS. Job files are written on the host
into a directory bind-mounted read-only at ``/job``; the candidate's scratch
space is a size-capped tmpfs at ``/scratch``.

Everything Docker offers to contain a hostile process is on (see
:func:`run_kwargs`); what Docker cannot report for a process inside a running
container (an OOM kill of one process) is read from the container's memory
cgroup (:meth:`WarmContainer.oom_kills`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandboxes._files import rmtree, write_tree
from sandboxes._workdirs import make_workdir
from sandboxes.docker.gpu import device_requests
from sandboxes.docker.layers import CONTAINER_PYTHONPATH
from sandboxes.job import Limits

__all__ = ["ContainerError", "ContainerSettings", "WarmContainer", "run_kwargs"]

log = logging.getLogger(__name__)

_SERVER = "from evaluators.container_server import main; main()"
_SOCKET = "server.sock"
WORKDIR_PREFIX = "evolve-docker-"  # swept by DockerSandbox when the owner is gone
_SERVER_HEADROOM_MB = 192  # the resident server and the job's supervisor
_CAPS = ["SETUID", "SETGID", "KILL"]  # the server's; the candidate's uid has none


class ContainerError(RuntimeError):
    """A container could not be started or stopped answering."""


@dataclass(frozen=True)
class ContainerSettings:
    """What a container is created with; jobs that need different ones get another."""

    image: str
    memory_mb: int
    cpus: float
    max_processes: int
    max_open_files: int
    max_file_mb: int
    gpu_ids: tuple[str, ...] = ()

    @classmethod
    def for_limits(cls, image: str, limits: Limits, gpu_ids: tuple[str, ...]) -> ContainerSettings:
        return cls(
            image=image,
            memory_mb=limits.resources.memory_mb,
            cpus=limits.resources.cpus,
            max_processes=limits.resources.max_processes,
            max_open_files=limits.resources.max_open_files,
            max_file_mb=limits.resources.max_file_mb,
            gpu_ids=gpu_ids,
        )


def run_kwargs(
    settings: ContainerSettings, labels: dict[str, str], host_dir: Path
) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.run``: the hardened container."""
    from docker.types import LogConfig, Mount, Ulimit

    memory = f"{settings.memory_mb + _SERVER_HEADROOM_MB}m"
    scratch_mb = max(16, settings.max_file_mb * 2)
    nofile = max(64, settings.max_open_files)
    return {
        "image": settings.image,
        "command": ["python3", "-s", "-B", "-c", _SERVER, f"/ctl/{_SOCKET}"],
        "detach": True,
        "init": True,  # a real PID 1 reaps whatever the server does not
        "user": "0",  # the server only: it drops every candidate to an unprivileged uid
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "cap_add": list(_CAPS),
        "security_opt": ["no-new-privileges"],
        "pids_limit": settings.max_processes + 32,
        "mem_limit": memory,
        "memswap_limit": memory,  # no swap beyond the memory limit
        "nano_cpus": int(settings.cpus * 1e9),
        "shm_size": "16m",
        "tmpfs": {"/scratch": f"rw,nosuid,nodev,noexec,size={scratch_mb}m,mode=1777"},
        "mounts": [
            Mount("/ctl", str(host_dir / "ctl"), type="bind"),
            Mount("/job", str(host_dir / "job"), type="bind", read_only=True),
        ],
        "ulimits": [
            Ulimit(name="nofile", soft=nofile, hard=nofile),
            Ulimit(name="fsize", soft=settings.max_file_mb << 20, hard=settings.max_file_mb << 20),
            Ulimit(name="core", soft=0, hard=0),
        ],
        "environment": {"PYTHONPATH": CONTAINER_PYTHONPATH, "LANG": "C.UTF-8"},
        "working_dir": "/",
        "log_config": LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
        "labels": labels,
        "device_requests": device_requests(settings.gpu_ids),
        "stdin_open": False,
    }


def _cgroup_files(container_id: str) -> list[Path]:
    """Where the container's OOM-kill counter may live (cgroup v1 and v2, cgroupfs and
    systemd drivers)."""
    fs = Path("/sys/fs/cgroup")
    return [
        fs / "memory/docker" / container_id / "memory.oom_control",
        fs / "memory/system.slice" / f"docker-{container_id}.scope" / "memory.oom_control",
        fs / "docker" / container_id / "memory.events",
        fs / "system.slice" / f"docker-{container_id}.scope" / "memory.events",
    ]


class WarmContainer:
    """A running sandbox container and the host's connection to its job server."""

    def __init__(
        self,
        client: Any,
        settings: ContainerSettings,
        labels: dict[str, str],
        uid: int,
        candidate_uid: int,
    ) -> None:
        self.settings = settings
        self.uid = uid  # the scorer's; owns the job's scorer-only files
        self.candidate_uid = candidate_uid  # call_candidate's child runs as this one
        self.uses = 0
        self._client = client
        self._dir = Path(make_workdir(WORKDIR_PREFIX))
        (self._dir / "ctl").mkdir(mode=0o700)
        (self._dir / "job").mkdir(mode=0o755)
        self._container: Any = None
        self._control: socket.socket | None = None
        self._seq = 0
        self._oom_file: Path | None = None
        try:
            self._start(labels)
        except BaseException:
            self.destroy()
            raise

    @property
    def id(self) -> str:
        return self._container.id if self._container is not None else ""

    def _start(self, labels: dict[str, str], timeout_s: float = 30.0) -> None:
        self._container = self._client.containers.run(
            **run_kwargs(self.settings, labels, self._dir)
        )
        path = self._dir / "ctl" / _SOCKET
        deadline = time.monotonic() + timeout_s
        while not path.exists():
            if time.monotonic() > deadline:
                raise ContainerError(
                    f"the sandbox container's server did not start: {self._logs()}"
                )
            self._container.reload()
            if self._container.status not in ("created", "running"):
                raise ContainerError(f"the sandbox container exited at start: {self._logs()}")
            time.sleep(0.005)
        control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        for _ in range(200):
            try:
                control.connect(str(path))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.005)
        else:
            control.close()
            raise ContainerError(f"cannot connect to the sandbox server: {self._logs()}")
        self._control = control
        self._oom_file = next((f for f in _cgroup_files(self.id) if f.exists()), None)
        if self._oom_file is None:
            log.warning(
                "docker sandbox: no memory cgroup found for container %s; an OOM kill of a "
                "candidate will be reported as an error or by its signal, not as oom",
                self.id[:12],
            )

    def _logs(self) -> str:
        with contextlib.suppress(Exception):
            text = self._container.logs(tail=5).decode("utf-8", "replace").strip()
            return text or f"status {self._container.status}"
        return "no logs"

    def oom_kills(self) -> int:
        """How many processes the container's memory cgroup has OOM-killed so far."""
        if self._oom_file is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in self._oom_file.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def prepare(self, files: dict[str, bytes], visible: Collection[str] = ()) -> str:
        """Write a job's files (read-only; all but ``visible`` the scorer uid's
        alone) and return its number, used in container paths."""
        self._seq += 1
        name = str(self._seq)
        write_tree(self._dir / "job" / name / "work", files, visible=visible, owner=self.uid)
        (self._dir / "job" / name).chmod(0o555)
        return name

    def cleanup(self, name: str) -> None:
        rmtree(str(self._dir / "job" / name))

    def submit(self, spec: bytes) -> socket.socket:
        """Send a job spec; its reply arrives on the returned socket."""
        if self._control is None:
            raise ContainerError("the sandbox container is closed")
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            socket.send_fds(self._control, [spec], [theirs.fileno()])
        except OSError as exc:
            mine.close()
            raise ContainerError(f"the sandbox server is gone: {exc}") from exc
        finally:
            theirs.close()
        self.uses += 1
        return mine

    def alive(self) -> bool:
        with contextlib.suppress(Exception):
            self._container.reload()
            return bool(self._container.status == "running")
        return False

    def destroy(self) -> None:
        """Kill and remove the container and its host directory (idempotent)."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._container is not None:
            with contextlib.suppress(Exception):
                self._container.remove(force=True)
            self._container = None
        rmtree(str(self._dir))
