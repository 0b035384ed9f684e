"""Kernel objects a candidate could own beyond its processes and files, on both
backends: keyrings (per uid, so they outlive the job), namespaces, tracing,
io_uring. The process sandbox denies what Docker's default seccomp profile
denies; probing candidates report what they managed as their score (0: none)."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from evaluators import _seccomp
from sandboxes.job import Sandbox
from tests.sandboxes.adversarial.corpus import breaches, require

# The few numbers the probes need, per architecture (x86_64, aarch64).
NR = {
    "x86_64": {"add_key": 248, "keyctl": 250, "io_uring_setup": 425, "ptrace": 101},
    "aarch64": {"add_key": 217, "keyctl": 219, "io_uring_setup": 425, "ptrace": 117},
}.get(platform.machine(), {})

PRELUDE = f"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
NR = {NR!r}
KEY_SPEC_USER_KEYRING = ctypes.c_int(-4)
KEY_SPEC_SESSION_KEYRING = ctypes.c_int(-3)
"""


@pytest.fixture(autouse=True)
def _known_architecture() -> None:
    if not NR:
        pytest.skip(f"no syscall numbers for the probes on {platform.machine()}")


def test_a_kernel_keyring_carries_nothing_to_the_next_candidate(backend: Sandbox) -> None:
    require(backend, "syscall_filter")
    store = (
        PRELUDE
        + """
def solve():
    stored = 0
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING):
        key = libc.syscall(NR["add_key"], b"user", b"evolve-probe", b"x = 42", 6, ring)
        stored += key >= 0
    return stored
"""
    )
    find = (
        PRELUDE
        + """
def solve():
    KEYCTL_SEARCH = 10
    found = 0
    for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_SESSION_KEYRING):
        key = libc.syscall(NR["keyctl"], KEYCTL_SEARCH, ring, b"user", b"evolve-probe", 0)
        found += key >= 0
    return found
"""
    )
    assert breaches(backend, store) == 0
    assert breaches(backend, find) == 0


def test_namespaces_tracing_and_io_uring_are_denied(backend: Sandbox) -> None:
    require(backend, "syscall_filter")
    code = (
        PRELUDE
        + """
def solve():
    reached = 0
    for flag in (0x10000000, 0x00020000, 0x40000000):  # NEWUSER, NEWNS, NEWNET
        reached += libc.unshare(flag) == 0
    params = ctypes.create_string_buffer(120)
    ring = libc.syscall(NR["io_uring_setup"], 8, params)
    reached += ring >= 0
    PTRACE_ATTACH = 16
    reached += libc.syscall(NR["ptrace"], PTRACE_ATTACH, os.getppid(), 0, 0) == 0
    return reached
"""
    )
    assert breaches(backend, code) == 0


def test_ordinary_work_still_runs_under_the_filter(backend: Sandbox) -> None:
    # Threads, subprocesses (clone3 falls back to clone) and numpy must keep working.
    code = """
import subprocess, sys, threading
import numpy as np

def solve():
    box = []
    thread = threading.Thread(target=lambda: box.append(int(np.arange(10).sum())))
    thread.start()
    thread.join()
    out = subprocess.run([sys.executable, "-c", "print(7)"], capture_output=True, text=True)
    return 0.0 if box == [45] and out.stdout.strip() == "7" else 1.0
"""
    assert breaches(backend, code) == 0


@pytest.mark.parametrize(
    ("machine", "header"),
    [
        ("x86_64", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        ("aarch64", "/usr/include/asm-generic/unistd.h"),
    ],
)
def test_the_filter_tables_match_the_kernel_headers(machine: str, header: str) -> None:
    path = Path(header)
    if not path.is_file():
        pytest.skip(f"{header} is not installed here (Debian: linux-libc-dev)")
    defined = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", path.read_text())
    }
    _, numbers = _seccomp.syscall_numbers(machine)
    assert {name: defined[name] for name in numbers} == numbers
    listed = {*_seccomp.DENIED, *_seccomp.ENOSYS_FOR, "clone"}
    assert set(numbers) == {name for name in listed if name in defined}
    watched = _seccomp.watched_numbers(machine)  # what the behaviour monitor looks at
    assert {name: defined[name] for name in watched} == watched


def test_the_candidate_sees_no_process_of_the_host(backend: Sandbox) -> None:
    require(backend, "private_processes")
    # This test process's command line names pytest; a candidate that can list
    # it could read any local process's command line (an API key on one, say).
    code = """
import os

def solve():
    seen = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    seen += b"pytest" in f.read()
            except OSError:
                pass
    return seen
"""
    assert breaches(backend, code) == 0
