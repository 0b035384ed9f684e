"""The Docker sandbox itself: hardening as created, the pool's life cycle, GPUs, the reaper.

These run against the real daemon (`make test` starts one) and never skip.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes.docker import reaper
from sandboxes.docker.container import ContainerSettings, run_kwargs
from sandboxes.docker.gpu import GpuError, assigned_gpu_ids, device_requests
from sandboxes.docker.image import ImageError, docker_client
from sandboxes.docker.sandbox import DockerSandbox
from sandboxes.job import Limits, Resources, Status
from tests.sandboxes.jobs import IMPORTING_SCORER, make_job

# The candidate reports which container it ran in (the hostname is the container id).
WHERE = "import socket\ndef solve():\n    return int(socket.gethostname()[:12], 16)\n"


@pytest.fixture(scope="module")
def client():
    return docker_client()


@pytest.fixture
def box() -> Iterator[DockerSandbox]:
    sandbox = DockerSandbox(max_containers=2, run_label="docker-tests")
    yield sandbox
    sandbox.close()


def where(box: DockerSandbox, **limits: float) -> float:
    result = box.run(make_job(WHERE, IMPORTING_SCORER, **limits))
    assert result.status == Status.OK, result.reason
    return result.metrics["score"]


def ours(client, run: str) -> list:
    """This process's containers of the sandbox labelled ``run`` (other test
    modules keep their own sandboxes alive in the same process)."""
    filters = {
        "label": [
            f"{reaper.LABEL}=1",
            f"{reaper.OWNER_LABEL}={reaper.owner_id()}",
            f"{reaper.RUN_LABEL}={run}",
        ]
    }
    return client.containers.list(all=True, filters=filters)


def test_created_containers_are_hardened(box: DockerSandbox, client) -> None:
    box.warm(1, Limits(resources=Resources(memory_mb=300, cpus=0.5, max_processes=40)))
    (container,) = ours(client, "docker-tests")
    host = container.attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"]
    assert sorted(host["CapAdd"]) == ["KILL", "SETGID", "SETUID"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Memory"] == host["MemorySwap"] == (300 + 192) << 20
    assert host["NanoCpus"] == 500_000_000
    assert host["PidsLimit"] == 40 + 32
    assert host["Init"] is True
    assert host["LogConfig"]["Config"]["max-size"] == "1m"
    assert "/scratch" in host["Tmpfs"] and "noexec" in host["Tmpfs"]["/scratch"]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts["/job"]["RW"] is False
    labels = container.labels
    assert labels[reaper.RUN_LABEL] == "docker-tests"
    assert labels[reaper.JOB_LABEL] == "warm-pool"


def test_the_candidate_runs_unprivileged_with_no_capabilities(box: DockerSandbox) -> None:
    code = """
    import os

    def solve():
        with open("/proc/self/status") as f:
            caps = [l.split()[1] for l in f if l.startswith(("CapEff", "CapPrm", "CapBnd"))]
        assert os.getuid() >= 61000 and os.geteuid() >= 61000, os.getuid()
        # The bounding set still has the server's 3 caps, but none are effective or permitted.
        assert caps[0] == caps[1] == "0000000000000000", caps
        return os.getuid()
    """
    result = box.run(make_job(code, IMPORTING_SCORER))
    assert result.status == Status.OK, result.reason
    assert result.metrics["score"] >= 61000


def test_containers_are_reused_then_recycled_after_max_uses(client) -> None:
    box = DockerSandbox(max_containers=1, max_uses=3)
    try:
        seen = [where(box) for _ in range(4)]
    finally:
        box.close()
    assert seen[0] == seen[1] == seen[2]
    assert seen[3] != seen[0]


def test_cold_mode_uses_a_new_container_per_job() -> None:
    box = DockerSandbox(max_containers=1, cold=True)
    try:
        seen = {where(box) for _ in range(3)}
    finally:
        box.close()
    assert len(seen) == 3


def test_a_job_with_other_limits_gets_another_container(box: DockerSandbox) -> None:
    a = where(box, memory_mb=256)
    b = where(box, memory_mb=512)
    assert a != b
    assert where(box, memory_mb=256) == a  # both stay warm (pool of 2)


def test_cgroup_oom_kill_is_reported_and_the_container_replaced(box: DockerSandbox) -> None:
    # Each process stays under its own address-space limit; together they
    # exceed the container's memory, so the cgroup's OOM killer acts.
    code = """
    import os, time

    def solve():
        kids = []
        for _ in range(6):
            pid = os.fork()
            if pid == 0:
                block = bytearray(200 * 1024 * 1024)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(30)
                os._exit(0)
            kids.append(pid)
        for pid in kids:
            os.waitpid(pid, 0)
        return 1.0
    """
    before = where(box, memory_mb=256, timeout_s=20)
    result = box.run(make_job(code, IMPORTING_SCORER, memory_mb=256, timeout_s=20))
    assert result.status == Status.OOM, result
    assert "out-of-memory" in result.reason
    assert where(box, memory_mb=256, timeout_s=20) != before


def test_a_stalled_container_hits_the_outer_deadline_and_is_removed(client) -> None:
    box = DockerSandbox(max_containers=1, grace_s=1.0, run_label="stalled")
    try:
        first = where(box, timeout_s=1)
        (container,) = ours(client, "stalled")
        container.pause()  # the server can no longer answer
        started = time.monotonic()
        result = box.run(make_job(WHERE, IMPORTING_SCORER, timeout_s=1))
        assert result.status == Status.TIMEOUT
        assert "did not answer" in result.reason
        assert time.monotonic() - started < 10
        assert where(box, timeout_s=1) != first
        assert len(ours(client, "stalled")) == 1
    finally:
        box.close()


def test_a_dead_idle_server_is_replaced_without_failing_the_job(box: DockerSandbox, client) -> None:
    first = where(box)
    (container,) = ours(client, "docker-tests")
    container.kill()
    assert where(box) != first


def test_close_removes_every_container(client) -> None:
    box = DockerSandbox(max_containers=2, run_label="closing")
    box.warm(2)
    assert len(ours(client, "closing")) == 2
    box.close()
    assert ours(client, "closing") == []
    assert box.run(make_job(WHERE)).status == Status.ERROR


def test_reaper_removes_containers_of_dead_owners_only(client) -> None:
    image = DockerSandbox(max_containers=1).image
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_owner = reaper.owner_id(int(gone.stdout))
    labels = {reaper.LABEL: "1", reaper.OWNER_LABEL: dead_owner}
    orphan = client.containers.run(
        image, ["sleep", "60"], detach=True, labels=labels, network_mode="none"
    )
    mine = client.containers.run(
        image,
        ["sleep", "60"],
        detach=True,
        labels=reaper.labels_for("reaper-test", 0, "x"),
        network_mode="none",
    )
    # This pid is alive, but the labelled start time is not this process's: a reused pid.
    reused_pid = {**reaper.labels_for("reaper-test", 0, "x"), reaper.OWNER_START_LABEL: "1"}
    reused = client.containers.run(
        image, ["sleep", "60"], detach=True, labels=reused_pid, network_mode="none"
    )
    try:
        reaper.reap_orphans(client)  # (another sandbox starting meanwhile may reap first)
        ids = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in ids
        assert reused.id not in ids
        assert mine.id in ids
    finally:
        mine.remove(force=True)


def test_a_killed_owner_leaves_nothing_after_the_next_start(client, tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})\n"
        "from sandboxes.docker.sandbox import DockerSandbox\n"
        "box = DockerSandbox(max_containers=1)\n"
        "box.warm(1)\n"
        "print('warm', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert "warm" in done.stdout, done.stderr
    owner_gone = [
        c
        for c in client.containers.list(all=True, filters={"label": f"{reaper.LABEL}=1"})
        if not reaper._owner_alive(c.labels.get(reaper.OWNER_LABEL, ""))
    ]
    assert owner_gone, "the killed owner should have left its warm container behind"
    DockerSandbox(max_containers=1).close()  # any new sandbox reaps at start-up
    ids = {c.id for c in client.containers.list(all=True)}
    assert not ids & {c.id for c in owner_gone}


def test_gpu_requests_name_exactly_the_assigned_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    (request,) = device_requests(["1", "3"])
    assert request["DeviceIDs"] == ["1", "3"]
    assert request["Capabilities"] == [["gpu"]]
    assert request["Driver"] == "nvidia"
    assert device_requests([]) == []
    assert assigned_gpu_ids(0, ["5"]) == []
    assert assigned_gpu_ids(1, [7, 8]) == ["7"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,4")
    assert assigned_gpu_ids(2) == ["2", "4"]
    with pytest.raises(GpuError, match=r"resources\.gpus"):
        assigned_gpu_ids(3)
    settings = ContainerSettings.for_limits("img", Limits(resources=Resources(gpus=1)), ("4",))
    kwargs = run_kwargs(settings, {}, Path("/tmp/x"))
    assert kwargs["device_requests"][0]["DeviceIDs"] == ["4"]


def test_a_gpu_job_on_a_worker_without_gpus_is_an_error_not_a_crash(box: DockerSandbox) -> None:
    box._gpu_ids = []
    result = box.run(make_job(WHERE, IMPORTING_SCORER, gpus=1))
    assert result.status == Status.ERROR
    assert "resources.gpus" in result.reason


def test_a_problem_can_name_its_own_image(client) -> None:
    # problem.toml [sandbox] image: any image on this machine built FROM ours.
    ours_tag = DockerSandbox(max_containers=1).image
    client.images.get(ours_tag).tag("evolve-sandbox-custom-test", "v1")
    box = DockerSandbox(image="evolve-sandbox-custom-test:v1", run_label="custom-image")
    try:
        where(box)
        (container,) = ours(client, "custom-image")
        assert container.attrs["Config"]["Image"] == "evolve-sandbox-custom-test:v1"
    finally:
        box.close()
        client.images.remove("evolve-sandbox-custom-test:v1")


def test_a_missing_image_is_an_error_naming_the_fix() -> None:
    with pytest.raises(ImageError, match=r"problem\.toml \[sandbox\] image"):
        DockerSandbox(image="evolve-sandbox-missing-test:none")
