"""Process-tree plumbing shared by ``call_candidate`` and the supervisor.

Why /proc scans: a candidate can ``setsid()`` out of its process group, so
killing a group is not enough. We freeze the whole tree with SIGSTOP (a
stopped process cannot fork), re-scan until no new member appears, then
SIGKILL everything. Scans are only needed on abnormal paths (timeouts, strays);
the normal path never reads /proc.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time

__all__ = ["Capture", "ExitWatch", "clip", "descendants", "kill_tree", "signal_name"]


def signal_name(signum: int) -> str:
    """``SIGKILL`` for 9; a number for signals Python has no name for."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _parent_map() -> dict[int, list[int]]:
    """pid -> child pids, for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ")".
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    return children


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (not ``pid`` itself), parents first."""
    children = _parent_map()
    found: list[int] = []
    frontier = [pid]
    while frontier:
        nxt: list[int] = []
        for parent in frontier:
            nxt.extend(children.get(parent, ()))
        found.extend(nxt)
        frontier = nxt
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signum)


def kill_tree(pid: int, include_root: bool = True, rounds: int = 50) -> None:
    """SIGKILL ``pid`` and all its descendants, including those that called setsid()."""
    seen: set[int] = set()
    for _ in range(rounds):
        tree = descendants(pid)
        if include_root:
            tree.insert(0, pid)
        fresh = [p for p in tree if p not in seen]
        if not fresh:
            break
        seen.update(fresh)
        _signal_all(fresh, signal.SIGSTOP)
    _signal_all(list(seen), signal.SIGKILL)
    if include_root:  # its group too; never our own group when we only clear our children
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)


class ExitWatch:
    """Tells when our child ``pid`` has exited, without reaping it.

    ``fd`` is a pidfd to poll on (None on kernels without pidfd; then callers
    poll ``exited()`` on a short interval).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except OSError:
            self.fd = None

    def exited(self) -> bool:
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def wait(self, timeout_s: float) -> bool:
        """Block until the exit or ``timeout_s``; True if it exited."""
        deadline = time.monotonic() + timeout_s
        while not self.exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self.fd is not None:
                select.select([self.fd], [], [], remaining)
            else:
                time.sleep(min(remaining, 0.005))
        return True

    def __enter__(self) -> ExitWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Capture:
    """Keeps the first and last ``limit // 2`` bytes of a stream, counting the rest.

    Lets a supervisor drain a candidate writing gigabytes without holding them,
    so the candidate never blocks on a full pipe and memory stays bounded.
    """

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 4 * self.half:
                del self.tail[: -self.half]

    def text(self, max_chars: int) -> str:
        """The kept bytes as text, with a marker where bytes were dropped."""
        tail = bytes(self.tail[-self.half :])
        dropped = self.total - len(self.head) - len(tail)
        head_text = self.head.decode("utf-8", "replace")
        tail_text = tail.decode("utf-8", "replace")
        if dropped > 0:
            text = f"{head_text}\n... [{dropped} bytes omitted] ...\n{tail_text}"
        else:
            text = head_text + tail_text
        return clip(text, max_chars)


def clip(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars``, keeping its head and tail (errors end in the tail)."""
    if len(text) <= max_chars:
        return text
    if max_chars < 64:
        return text[:max_chars]
    keep = max_chars - 48  # the marker below is shorter than 48 chars
    head = keep // 3
    marker = f"\n... [{len(text) - keep} chars omitted] ...\n"
    return text[:head] + marker + text[len(text) - (keep - head) :]
