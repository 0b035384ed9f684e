"""The harness's private result channel, and the rule that children never hold it.

The harness writes its envelope to an inherited pipe fd, never to stdout. Any
process forked from the harness (``call_candidate``, ``multiprocessing`` with
the fork start method, a scorer's own ``os.fork``) closes that fd first thing,
so candidate code running in a child cannot write a forged result into it.
``subprocess`` children never inherit it (the fd is non-inheritable).
"""

from __future__ import annotations

import contextlib
import os

_result_fd: int | None = None
_hook_installed = False


def claim(fd: int) -> None:
    """Record ``fd`` as the result channel and close it in every future fork child."""
    global _result_fd, _hook_installed
    _result_fd = fd
    os.set_inheritable(fd, False)
    if not _hook_installed:
        os.register_at_fork(after_in_child=close_in_child)
        _hook_installed = True


def close_in_child() -> None:
    """Close the result channel (called in fork children before candidate code)."""
    global _result_fd
    if _result_fd is not None:
        with contextlib.suppress(OSError):
            os.close(_result_fd)
        _result_fd = None
