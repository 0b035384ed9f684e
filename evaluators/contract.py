"""The result contract shared by the harness (inside the sandbox) and the host.

Kept tiny and stdlib-only because both sides import it: the harness to build
the envelope it sends back, the host to validate what it receives.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """How an evaluation ended. Everything but OK means "no trustworthy score"."""

    OK = "ok"
    INVALID = "invalid"  # the scorer ran but rejected the candidate (or its output)
    TIMEOUT = "timeout"  # the deadline passed; the whole process tree was killed
    OOM = "oom"  # the memory limit was hit
    ERROR = "error"  # crash, exception, missing result, harness failure


# Bounds the host enforces on every result (the harness enforces them too, so a
# scorer learns about a violation in its own words rather than a truncation).
MAX_METRICS = 256
MAX_METRIC_NAME_CHARS = 128
MAX_ARTIFACTS = 64
MAX_ARTIFACT_CHARS = 16_384
MAX_ENVELOPE_BYTES = 2 * 1024 * 1024

ENVELOPE_VERSION = 1

# Behaviour monitoring (evaluators._monitor): what a candidate tried that its
# sandbox refuses, by kind, with a short log of distinct lines.
PROBE_KINDS = ("network", "write", "read", "syscall", "limit")
MAX_PROBE_LINES = 20
MAX_PROBE_LINE_CHARS = 240
MAX_PROBE_COUNT = 10**12
