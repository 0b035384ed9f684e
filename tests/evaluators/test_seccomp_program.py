"""The seccomp programs run in a small BPF interpreter: what each syscall gets.

The behaviour monitor (evaluators._monitor) lets a notified syscall go on only
when it is one the filter merely watches. The safety property: no syscall the
plain filter denies is ever allowed by the watching filter, nor let go on by
the monitor. Checked here for every syscall number and random clone flags,
on both architectures, without a kernel.
"""

from __future__ import annotations

import os
import socket
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluators import _listeners, _monitor, _seccomp

ALLOW = _seccomp.SECCOMP_RET_ALLOW
NOTIFY = _seccomp.SECCOMP_RET_USER_NOTIF
EPERM = _seccomp.SECCOMP_RET_ERRNO | 1
ENOSYS = _seccomp.SECCOMP_RET_ERRNO | 38
MACHINES = ("x86_64", "aarch64")


def run_bpf(program: list[bytes], nr: int, arch: int, arg0: int) -> int:
    """The action of ``program`` for one syscall (the opcodes _seccomp emits)."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    insns = [struct.unpack("HBBI", i) for i in program]
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld w abs
            acc = struct.unpack_from("<I", data, k)[0]
        elif code == 0x15:  # jeq
            pc += jt if acc == k else jf
        elif code == 0x35:  # jge
            pc += jt if acc >= k else jf
        elif code == 0x45:  # jset
            pc += jt if acc & k else jf
        elif code == 0x06:  # ret
            return int(k)
        else:
            raise AssertionError(f"unknown opcode {code:#x}")
        pc += 1


@pytest.fixture(scope="module")
def monitor() -> _monitor.Monitor:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.close()
    return _monitor.Monitor(ours.detach(), None, "/tmp")


def watching(machine: str) -> list[bytes]:
    return _seccomp.program(machine, notify=True, watch=_listeners.WATCH_CANDIDATE)


@pytest.mark.parametrize("machine", MACHINES)
def test_watched_and_denied_syscalls_never_overlap(machine: str) -> None:
    _, numbers = _seccomp.syscall_numbers(machine)
    denied = {numbers[n] for n in _seccomp.DENIED if n in numbers}
    assert not denied & set(_seccomp.watched_numbers(machine).values())


@pytest.mark.parametrize("machine", MACHINES)
def test_every_denied_syscall_is_notified_or_refused_never_allowed(machine: str) -> None:
    arch, numbers = _seccomp.syscall_numbers(machine)
    plain, watch = _seccomp.program(machine), watching(machine)
    for nr in range(600):
        for flags in (0, 0x11, 0x10000000, 0x00010000 | 0x100):  # SIGCHLD, NEWUSER, THREAD
            before, after = run_bpf(plain, nr, arch, flags), run_bpf(watch, nr, arch, flags)
            if before == EPERM:
                assert after == NOTIFY, (nr, flags)
            elif before == ENOSYS:
                assert after == ENOSYS, (nr, flags)
            else:
                assert after in (ALLOW, NOTIFY), (nr, flags)
    # a foreign ABI and x32 are refused outright, never sent to the listener
    assert run_bpf(watch, numbers["ptrace"], 0x40000003, 0) == EPERM
    if machine == "x86_64":
        assert run_bpf(watch, 0x40000000 | 2, arch, 0) == EPERM


@settings(max_examples=400, deadline=None)
@given(nr=st.integers(0, 1023), flags=st.integers(0, 2**64 - 1))
def test_the_monitor_lets_go_on_only_what_the_plain_filter_allows(
    monitor: _monitor.Monitor, nr: int, flags: int
) -> None:
    arch, _ = _seccomp.syscall_numbers()
    plain, watch = _seccomp.program(), watching(os.uname().machine)
    action = run_bpf(watch, nr, arch, flags & 0xFFFFFFFF)
    if action == NOTIFY and monitor._goes_on(nr, flags):
        assert run_bpf(plain, nr, arch, flags & 0xFFFFFFFF) == ALLOW


@pytest.mark.parametrize("machine", MACHINES)
def test_opens_sockets_and_new_processes_are_watched_threads_are_not(machine: str) -> None:
    arch, numbers = _seccomp.syscall_numbers(machine)
    watched = _seccomp.watched_numbers(machine)
    watch, scorer = watching(machine), _seccomp.program(machine, True, _listeners.WATCH_SCORER)
    assert run_bpf(watch, watched["openat"], arch, 0) == NOTIFY
    assert run_bpf(scorer, watched["openat"], arch, 0) == ALLOW  # the scorer reads its data
    for program in (watch, scorer):
        assert run_bpf(program, watched["socket"], arch, socket.AF_INET) == NOTIFY
        assert run_bpf(program, watched["socket"], arch, socket.AF_UNIX) == ALLOW
    assert run_bpf(watch, numbers["clone"], arch, 0x11) == NOTIFY  # fork()
    assert run_bpf(watch, numbers["clone"], arch, 0x3D0F00) == ALLOW  # pthread_create
    assert run_bpf(scorer, numbers["clone"], arch, 0x11) == NOTIFY  # a fork bomb in-process


def test_watching_needs_a_listener_and_known_names() -> None:
    with pytest.raises(ValueError, match="notify=True"):
        _seccomp.program(watch=frozenset({"files"}))
    with pytest.raises(ValueError, match="unknown watch"):
        _seccomp.program(notify=True, watch=frozenset({"dns"}))


@pytest.mark.parametrize(
    ("release", "expected"),
    [
        ("5.4.0-150-generic", False),  # Ubuntu 20.04: a listener, but no "go on"
        ("4.19.0-26-amd64", False),
        ("5.5.0", True),
        ("6.18.44-fc-v1147", True),
        ("unknown", False),
    ],
)
def test_watching_needs_a_kernel_that_lets_a_call_go_on(release: str, expected: bool) -> None:
    assert _seccomp.can_continue(release) is expected
