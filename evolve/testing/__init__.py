"""Test doubles that speak real protocols: the offline mutator as an
OpenAI-compatible HTTP server, with fault injection.

Why: the real ``openai`` client path (retries, timeouts, error mapping, usage
accounting) gets exercised end to end without any network, tests can inject
faults a real endpoint produces, and peer frameworks (OpenEvolve,
ShinkaEvolve) can be benchmarked against the very same "model" as evolve.

Python API::

    from evolve.testing import FaultPlan, serve_in_thread

    with serve_in_thread(seed=0, faults=FaultPlan(script=["429_retry_after", "ok"])) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="x")
        ...
        assert srv.stats["429_retry_after"] == 1

Command line (standalone, or wired into ``evolve mutator serve``)::

    python -m evolve.testing --port 8000 --fail-rate 0.1

Outcomes counted in ``stats``: "ok", "no_edit" (the prompt held no program the
mutator could edit; answered 200 with prose), each fault kind of
``FAULT_KINDS``, and "models", "bad_request", "unauthorized", "not_found",
"http_<status>", "internal_error" for the other requests.

``app`` is the server handle, ``handler`` answers requests, ``wire`` the
request and reply formats, ``faults`` what a fault plan injects, ``serve`` the
command line. May import ``edits`` and ``mutation.offline``: the server proposes
with the same code a run does.
"""

from evolve.testing.app import DEFAULT_MODEL, MutatorServer, serve_in_thread
from evolve.testing.faults import CONTENT_FAULTS, FAULT_KINDS, HTTP_FAULTS, OUTCOMES, FaultPlan
from evolve.testing.wire import estimate_tokens

__all__ = [
    "CONTENT_FAULTS",
    "DEFAULT_MODEL",
    "FAULT_KINDS",
    "HTTP_FAULTS",
    "OUTCOMES",
    "FaultPlan",
    "MutatorServer",
    "estimate_tokens",
    "serve_in_thread",
]
