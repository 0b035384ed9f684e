"""A seccomp filter for the harness process: deny what Docker's default profile denies.

Why: a job's processes run as a uid that later jobs reuse, and a few kernel
objects belong to the uid rather than to a process, so they outlive the job:
the kernel keyrings (``add_key``/``keyctl``: a candidate stored a value that the
next candidate under that uid read and scored from). Others let a process
reach outside its job: namespaces (``unshare``, ``setns``, ``clone`` with
namespace flags), tracing and reading other processes (``ptrace``,
``process_vm_readv``/``writev``, ``kcmp``, ``pidfd_getfd``), mounts, kernel
modules, BPF, perf, ``io_uring``, ``userfaultfd``, clocks, reboot, swap. The
filter returns ``EPERM`` for each (``ENOSYS`` for ``clone3``, so libc falls back
to ``clone``, whose flags the filter can read), as Docker's default profile
does; everything else is allowed. SysV/POSIX IPC objects live in the job's own
IPC namespace (the supervisor unshares one), and timers, inotify and the like
die with the processes that own them.

The filter is classic BPF, built here from the tables below (checked against
the kernel headers by the tests where they are installed), because this
package is standard library only. It is installed after the harness drops to
the job's uid and applies to the scorer and every process the candidate starts.

Under the supervisor the filter does not answer a denied syscall itself: it
hands it to a listener (``SECCOMP_RET_USER_NOTIF``) in the supervisor, which
answers EPERM and counts it, and it shows the supervisor the opens, network
sockets and new processes of the candidate's processes, which go on
(:mod:`evaluators._monitor`). The harness and the zygote each install their own
(one listener per process), the zygote's before any candidate code runs. Where
the listener is gone (the supervisor died), a notified syscall fails: the
filter never fails open.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import struct

__all__ = [
    "CLONE_NAMESPACES",
    "DENIED",
    "ENOSYS_FOR",
    "NETWORK_FAMILIES",
    "WATCHES",
    "SeccompUnavailable",
    "can_continue",
    "install",
    "program",
    "syscall_numbers",
    "watched_numbers",
]

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_USER_NOTIF = 0x7FC00000

# BPF opcodes (linux/filter.h)
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR = 0
_ARCH = 4
_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0]

CLONE_NAMESPACES = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x00000080  # CLONE_NEWTIME
)
_X32_SYSCALL_BIT = 0x40000000

DENIED = (
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "fanotify_init",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "migrate_pages",
    "mount",
    "mount_setattr",
    "move_mount",
    "move_pages",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setdomainname",
    "sethostname",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "sysfs",
    "_sysctl",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vhangup",
)
ENOSYS_FOR = ("clone3",)  # its flags sit in memory the filter cannot read

# From the kernel's asm/unistd_64.h (x86_64) and asm-generic/unistd.h (aarch64).
_X86_64 = {
    "acct": 163, "add_key": 248, "bpf": 321, "clock_adjtime": 305, "clock_settime": 227,
    "create_module": 174, "delete_module": 176, "finit_module": 313, "fanotify_init": 300,
    "fsconfig": 431, "fsmount": 432, "fsopen": 430, "fspick": 433, "get_kernel_syms": 177,
    "init_module": 175, "io_uring_enter": 426, "io_uring_register": 427,
    "io_uring_setup": 425, "ioperm": 173, "iopl": 172, "kcmp": 312, "kexec_file_load": 320,
    "kexec_load": 246, "keyctl": 250, "lookup_dcookie": 212, "mount": 165,
    "mount_setattr": 442, "move_mount": 429, "move_pages": 279, "migrate_pages": 256,
    "name_to_handle_at": 303, "nfsservctl": 180, "open_by_handle_at": 304, "open_tree": 428,
    "perf_event_open": 298, "pidfd_getfd": 438, "pivot_root": 155, "process_vm_readv": 310,
    "process_vm_writev": 311, "ptrace": 101, "query_module": 178, "quotactl": 179,
    "quotactl_fd": 443, "reboot": 169, "request_key": 249, "setdomainname": 171,
    "sethostname": 170, "setns": 308, "settimeofday": 164, "swapoff": 168, "swapon": 167,
    "syslog": 103, "_sysctl": 156, "umount2": 166, "unshare": 272, "uselib": 134,
    "userfaultfd": 323, "ustat": 136, "vhangup": 153, "sysfs": 139, "clone": 56,
    "clone3": 435,
}  # fmt: skip
_AARCH64 = {
    "acct": 89, "add_key": 217, "bpf": 280, "clock_adjtime": 266, "clock_settime": 112,
    "delete_module": 106, "finit_module": 273, "fanotify_init": 262, "fsconfig": 431,
    "fsmount": 432, "fsopen": 430, "fspick": 433, "init_module": 105, "io_uring_enter": 426,
    "io_uring_register": 427, "io_uring_setup": 425, "kcmp": 272, "kexec_file_load": 294,
    "kexec_load": 104, "keyctl": 219, "lookup_dcookie": 18, "mount": 40,
    "mount_setattr": 442, "move_mount": 429, "move_pages": 239, "migrate_pages": 238,
    "name_to_handle_at": 264, "nfsservctl": 42, "open_by_handle_at": 265, "open_tree": 428,
    "perf_event_open": 241, "pidfd_getfd": 438, "pivot_root": 41, "process_vm_readv": 270,
    "process_vm_writev": 271, "ptrace": 117, "quotactl": 60, "quotactl_fd": 443,
    "reboot": 142, "request_key": 218, "setdomainname": 162, "sethostname": 161,
    "setns": 268, "settimeofday": 170, "swapoff": 225, "swapon": 224, "syslog": 116,
    "umount2": 39, "unshare": 97, "userfaultfd": 282, "vhangup": 58, "clone": 220,
    "clone3": 435,
}  # fmt: skip
# AUDIT_ARCH_* (linux/audit.h): the ABI a syscall entered through.
_ARCHES = {"x86_64": (0xC000003E, _X86_64), "aarch64": (0xC00000B7, _AARCH64)}
# What a watching filter looks at (evaluators._monitor); none of it is denied.
_WATCHED = {
    "x86_64": {
        "open": 2, "openat": 257, "creat": 85, "openat2": 437, "socket": 41, "fork": 57,
        "vfork": 58,
    },
    "aarch64": {"openat": 56, "openat2": 437, "socket": 198},
}  # fmt: skip
_SECCOMP_SYSCALL = {"x86_64": 317, "aarch64": 277}  # seccomp(2), for a listener
NETWORK_FAMILIES = (2, 10, 17)  # AF_INET, AF_INET6, AF_PACKET
WATCHES = ("network", "files", "processes")
_OPENS = ("open", "openat", "creat", "openat2")
_CLONE_THREAD = 0x00010000


class SeccompUnavailable(OSError):
    """This machine's architecture or kernel gives no seccomp filter."""


def syscall_numbers(machine: str | None = None) -> tuple[int, dict[str, int]]:
    """(AUDIT_ARCH value, name -> number) for ``machine`` (default: this one)."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SeccompUnavailable(
            0, f"no seccomp syscall table for {machine} (known: {', '.join(_ARCHES)})"
        )
    return _ARCHES[machine]


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def watched_numbers(machine: str | None = None) -> dict[str, int]:
    """name -> number of the syscalls a watching filter looks at on ``machine``
    (the only ones its listener may let go on)."""
    machine = machine or platform.machine()
    syscall_numbers(machine)  # an unknown machine raises here
    return dict(_WATCHED[machine])


def program(
    machine: str | None = None, notify: bool = False, watch: frozenset[str] = frozenset()
) -> list[bytes]:
    """The filter's instructions for ``machine``: a foreign ABI (x32, 32-bit
    compat) is refused, then each denied syscall gets its errno.

    With ``notify`` a denied syscall (a namespaced clone included) goes to the
    filter's listener instead, which answers EPERM and counts it; ``watch``
    (of ``WATCHES``) adds syscalls the listener only looks at and lets go on
    (:mod:`evaluators._monitor`): ``network`` an AF_INET/AF_INET6/AF_PACKET
    socket, ``files`` every open, ``processes`` every new process (not threads).
    A filter has one listener and a process's filters share one, so one
    filter holds both: a second filter's notification could never show a
    denial (the first filter's errno wins) and would need a second listener.
    """
    if watch and not notify:
        raise ValueError("watching needs a listener: pass notify=True")
    unknown = set(watch) - set(WATCHES)
    if unknown:
        raise ValueError(f"unknown watch {sorted(unknown)} (known: {', '.join(WATCHES)})")
    arch, numbers = syscall_numbers(machine)
    watched = watched_numbers(machine)
    refuse = SECCOMP_RET_ERRNO | 1  # EPERM
    deny = SECCOMP_RET_USER_NOTIF if notify else refuse
    enosys = SECCOMP_RET_ERRNO | 38  # ENOSYS
    notice, allow = SECCOMP_RET_USER_NOTIF, SECCOMP_RET_ALLOW
    insns = [
        _insn(_LD_W_ABS, 0, 0, _ARCH),
        _insn(_JEQ_K, 1, 0, arch),
        _insn(_RET_K, 0, 0, refuse),  # another ABI: its numbers mean other syscalls
        _insn(_LD_W_ABS, 0, 0, _NR),
    ]
    if arch == _ARCHES["x86_64"][0]:
        insns += [_insn(_JGE_K, 0, 1, _X32_SYSCALL_BIT), _insn(_RET_K, 0, 0, refuse)]
    for name in DENIED:
        if name in numbers:
            insns += [_insn(_JEQ_K, 0, 1, numbers[name]), _insn(_RET_K, 0, 0, deny)]
    for name in ENOSYS_FOR:
        insns += [_insn(_JEQ_K, 0, 1, numbers[name]), _insn(_RET_K, 0, 0, enosys)]
    looked_at = [n for n in _OPENS if "files" in watch] + [
        n for n in ("fork", "vfork") if "processes" in watch
    ]
    for name in looked_at:
        if name in watched:
            insns += [_insn(_JEQ_K, 0, 1, watched[name]), _insn(_RET_K, 0, 0, notice)]
    if "network" in watch:  # socket(family, ...): the network families only
        insns += [
            _insn(_JEQ_K, 0, 6, watched["socket"]),
            _insn(_LD_W_ABS, 0, 0, _ARG0_LOW),
            _insn(_JEQ_K, 3, 0, NETWORK_FAMILIES[0]),
            _insn(_JEQ_K, 2, 0, NETWORK_FAMILIES[1]),
            _insn(_JEQ_K, 1, 0, NETWORK_FAMILIES[2]),
            _insn(_RET_K, 0, 0, allow),
            _insn(_RET_K, 0, 0, notice),
        ]
    # clone: any namespace flag is denied (the flags are args[0], its low word);
    # watched, a new process (no CLONE_THREAD) is looked at.
    new_process = notice if "processes" in watch else allow
    insns += [
        _insn(_JEQ_K, 0, 6, numbers["clone"]),
        _insn(_LD_W_ABS, 0, 0, _ARG0_LOW),
        _insn(_JSET_K, 0, 1, CLONE_NAMESPACES),
        _insn(_RET_K, 0, 0, deny),
        _insn(_JSET_K, 0, 1, _CLONE_THREAD),
        _insn(_RET_K, 0, 0, allow),
        _insn(_RET_K, 0, 0, new_process),
        _insn(_RET_K, 0, 0, allow),
    ]
    return insns


def can_continue(release: str | None = None) -> bool:
    """Whether this kernel lets a listener answer "go on"
    (``SECCOMP_USER_NOTIF_FLAG_CONTINUE``, Linux 5.5): without it a watched
    syscall could only be failed, so nothing is watched (denials still are)."""
    text = release if release is not None else platform.release()
    numbers = [int(part) for part in re.findall(r"\d+", text)[:2]]
    return len(numbers) == 2 and (numbers[0], numbers[1]) >= (5, 5)


def install(notify: bool = False, watch: frozenset[str] = frozenset()) -> int | None:
    """Install the filter on this thread and every process it starts from now on.

    Needs ``PR_SET_NO_NEW_PRIVS`` set first (the supervisor sets it). Raises
    ``SeccompUnavailable`` where it cannot be installed, so the caller decides
    whether the job may run without it. With ``notify`` (see :func:`program`)
    it returns the listener's fd (``SECCOMP_FILTER_FLAG_NEW_LISTENER``), and
    raises where the kernel gives none or this process already has one.
    """
    if not can_continue():
        watch = frozenset()
    return _load(program(notify=notify, watch=watch), listener=notify)


def _load(insns: list[bytes], listener: bool) -> int | None:
    code = b"".join(insns)
    buffer = ctypes.create_string_buffer(code, len(code))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = SockFprog(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    if listener:
        libc.syscall.restype = ctypes.c_long
        flags = SECCOMP_FILTER_FLAG_NEW_LISTENER
        number = _SECCOMP_SYSCALL[platform.machine()]
        fd = libc.syscall(number, SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(prog))
        if fd < 0:
            err = ctypes.get_errno()
            raise SeccompUnavailable(err, f"seccomp listener refused: {os.strerror(err)}")
        return int(fd)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompUnavailable(err, f"seccomp filter refused: {os.strerror(err)}")
    return None
