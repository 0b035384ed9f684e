"""In the job: install the watching seccomp filters and hand their listeners
to the supervisor (:mod:`evaluators._monitor` answers them).

The supervisor passes a socket (``set_channel``) to the harness it forks; the
zygote, forked from the harness before any scorer code, installs the candidate
filter (``watch_candidates``), then the harness its own (``filter_job``); each
sends its listener over the socket and closes it, so nothing the candidate runs
later can send one. A process and its children share one listener, which is
why the zygote is forked before the harness's filter exists.
"""

from __future__ import annotations

import contextlib
import os
import socket

from evaluators import _seccomp

__all__ = [
    "WATCH_CANDIDATE",
    "WATCH_SCORER",
    "close_channel",
    "filter_job",
    "prepare",
    "send_listener",
    "set_channel",
    "watch_candidates",
]

WATCH_CANDIDATE = frozenset(_seccomp.WATCHES)
WATCH_SCORER = frozenset({"network", "processes"})

_channel: int | None = None


def set_channel(fd: int) -> None:
    """The socket the supervisor reads listeners from (the harness inherits it)."""
    global _channel
    _channel = fd


def prepare(fd: int, watch: bool) -> None:
    """In the supervisor's child that becomes the harness, where the job is
    filtered: with ``watch``, keep ``fd`` for the watching filters the harness
    and its zygote install (:func:`watch_candidates`, :func:`filter_job`);
    without, install the plain filter now (raising where it cannot be)."""
    if watch:
        set_channel(fd)
        return
    os.close(fd)
    _seccomp.install()


def close_channel() -> None:
    """Close the socket: after the harness's and the zygote's listeners are sent,
    nothing the candidate runs may send one."""
    global _channel
    if _channel is not None:
        with contextlib.suppress(OSError):
            os.close(_channel)
        _channel = None


def send_listener(listener: int, role: str) -> None:
    """Pass ``listener`` to the supervisor (then close our copy)."""
    try:
        if _channel is not None:
            with socket.socket(fileno=os.dup(_channel)) as sock:
                socket.send_fds(sock, [role.encode()], [listener])
    finally:
        os.close(listener)


def watch_candidates() -> None:
    """In the zygote, holding the candidate's ids, before any candidate code
    runs: the job's filter, watching everything (``WATCH_CANDIDATE``), its
    listener handed over. The zygote is forked before the harness installs its
    own filter, since a process and its children share one listener. Without a
    supervisor channel (a scorer run on its own, or a job the supervisor does
    not filter) nothing is installed here; where the kernel gives no listener,
    the plain filter (raising if even that fails: the zygote then dies and no
    candidate runs unfiltered)."""
    if _channel is None:
        return
    _filter("candidate", WATCH_CANDIDATE)
    close_channel()


def filter_job() -> None:
    """In the harness, once the zygote is forked: the job's filter for the
    scorer's process, watching network sockets and new processes
    (``WATCH_SCORER``: not its opens, since the scorer reads its own data; a
    candidate it loads in-process may still try the network or fork), its
    listener handed over. No-op without a channel."""
    if _channel is None:
        return
    _filter("job", WATCH_SCORER)
    close_channel()


def _filter(role: str, watch: frozenset[str]) -> None:
    """Install, then hand the listener over. Between the two, nothing may open a
    file, fork or make a denied syscall: it would wait on a listener that no
    one reads yet (sending the fd over the channel needs none of these)."""
    try:
        listener = _seccomp.install(notify=True, watch=watch)
    except OSError:
        _seccomp.install()
        return
    assert listener is not None
    send_listener(listener, role)
