"""The handle of a running mutator server: start, address, stats, close.

It also bills like a provider: ``usage`` sums the tokens of every reply it
sent, so a test can hold a run's llm_calls table against the server's own
count; ``received`` (with ``keep_messages``) is every chat request's messages.

Closing wakes every sleeping handler (hangs, latency) and shuts down open
keep-alive connections, so ``close()`` returns promptly even mid-hang and a
client's pooled connection never reaches a handler of a closed server.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from types import TracebackType
from typing import Any, cast

from evolve.testing.faults import FaultPlan
from evolve.testing.handler import MutatorHTTPServer, MutatorHTTPServer6, RequestHandler
from evolve.testing.wire import ChatRequest

__all__ = ["DEFAULT_MODEL", "MutatorServer", "serve_in_thread"]

DEFAULT_MODEL = "evolve-offline"


class MutatorServer:
    """A running OpenAI-compatible server answering with offline-mutator edits.

    Use as a context manager or call ``close()``. ``base_url`` is what an
    OpenAI client takes; ``stats`` counts requests by outcome (see
    ``evolve.testing`` for the outcome names).

    ``seed`` changes every edit; ``api_key`` (None: no auth) is required as
    ``Authorization: Bearer``; ``faults`` says what goes wrong and when;
    ``latency_s`` delays every completion (a model's thinking time, for
    throughput benchmarks); ``model`` is the id ``/v1/models`` lists (requests
    may name any model, it is echoed); ``vary`` mixes the request number into
    the seed so identical prompts get different edits, as with sampling;
    ``keep_messages`` keeps the messages of every chat request in ``received``.
    Binding a non-loopback ``host`` is allowed but never the default: the
    server has no TLS and answers anyone who can reach it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: int = 0,
        api_key: str | None = None,
        faults: FaultPlan | None = None,
        latency_s: float = 0.0,
        model: str = DEFAULT_MODEL,
        vary: bool = False,
        log_requests: bool = False,
        keep_messages: bool = False,
    ) -> None:
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s}")
        self.seed = seed
        self.api_key = api_key or None
        self.faults = faults if faults is not None else FaultPlan()
        self.latency_s = latency_s
        self.model = model
        self.vary = vary
        self.log_requests = log_requests
        self.created = int(time.time())
        self._lock = threading.Lock()
        self._stats: Counter[str] = Counter()
        self._usage: Counter[str] = Counter()
        self.keep_messages = keep_messages
        self._received: list[list[dict[str, Any]]] = []
        self._next_index = 0
        self._in_flight = 0  # chat completions being served now
        self._peak_in_flight = 0
        self.closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._closed = False
        server_class = MutatorHTTPServer6 if ":" in host else MutatorHTTPServer
        self._httpd = server_class((host, port), _BillingHandler)
        self._httpd.app = self
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # close() waits at most this long
            name=f"evolve-mutator-server:{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:8000``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OpenAI clients take as ``base_url`` / OpenEvolve as ``api_base``."""
        return f"{self.url}/v1"

    @property
    def stats(self) -> Counter[str]:
        """A snapshot of requests served, by outcome (a missing key reads 0)."""
        with self._lock:
            return Counter(self._stats)

    @property
    def requests(self) -> int:
        """Chat-completion requests that got an outcome (fault or not) so far."""
        with self._lock:
            return self._next_index

    @property
    def peak_in_flight(self) -> int:
        """The most chat completions being served at once so far (since
        ``reset_stats``): how many LLM calls a client really kept in flight."""
        with self._lock:
            return self._peak_in_flight

    @property
    def usage(self) -> Counter[str]:
        """Tokens billed so far (``prompt_tokens``, ``completion_tokens``,
        ``total_tokens``): the sum of the ``usage`` of every reply sent."""
        with self._lock:
            return Counter(self._usage)

    @property
    def received(self) -> list[list[dict[str, Any]]]:
        """The messages of every chat request, in arrival order (empty unless
        ``keep_messages``)."""
        with self._lock:
            return [list(messages) for messages in self._received]

    def reset_stats(self) -> None:
        """Zero the counters (``usage`` too); the fault script and fail-rate
        sequence go on."""
        with self._lock:
            self._stats.clear()
            self._usage.clear()
            self._peak_in_flight = self._in_flight

    def close(self) -> None:
        """Stop serving and end every open connection; idempotent, prompt."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.closing.set()  # wakes hangs and latency sleeps
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # unblocks idle keep-alive readers
        self._thread.join(timeout=5)

    def __enter__(self) -> MutatorServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"MutatorServer({self.base_url}, seed={self.seed}, {state})"

    # -- used by the handler ---------------------------------------------------

    def track(self, conn: socket.socket, alive: bool) -> None:
        with self._lock:
            if alive:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def count(self, outcome: str) -> None:
        with self._lock:
            self._stats[outcome] += 1

    def chat_started(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)

    def chat_ended(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def bill(self, usage: Any) -> None:
        """A reply carrying ``usage`` (an OpenAI usage object) was sent."""
        if not isinstance(usage, dict):
            return
        with self._lock:
            for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
                self._usage[name] += int(usage.get(name) or 0)

    def receive(self, request: ChatRequest) -> None:
        if self.keep_messages:
            with self._lock:
                self._received.append([dict(m) for m in request.messages])

    def next_outcome(self) -> tuple[int, str]:
        with self._lock:
            index = self._next_index
            self._next_index += 1
        return index, self.faults.outcome(index, self.seed)


class _BillingHandler(RequestHandler):
    """The request handler, telling its server handle what each chat request
    held and what each reply billed (the handler itself keeps no books)."""

    @property
    def _handle(self) -> MutatorServer:
        return cast(MutatorServer, self.server.app)

    def _chat(self, request: ChatRequest) -> None:
        self._handle.receive(request)
        super()._chat(request)

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        # Billed before sending, as a provider does: a client that has read the
        # reply always finds it counted.
        if status == 200 and isinstance(body, dict):
            self._handle.bill(body.get("usage"))
        super()._send_json(status, body, headers)

    def _send_stream(self, chunks: list[dict[str, Any]], headers: dict[str, str]) -> None:
        for chunk in chunks:
            self._handle.bill(chunk.get("usage"))
        super()._send_stream(chunks, headers)


def serve_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = 0,
    api_key: str | None = None,
    faults: FaultPlan | None = None,
    latency_s: float = 0.0,
    model: str = DEFAULT_MODEL,
    vary: bool = False,
    log_requests: bool = False,
    keep_messages: bool = False,
) -> MutatorServer:
    """Start a server on a background daemon thread (``port=0``: any free
    port) and return its handle once it accepts connections."""
    return MutatorServer(
        host,
        port,
        seed=seed,
        api_key=api_key,
        faults=faults,
        latency_s=latency_s,
        model=model,
        vary=vary,
        log_requests=log_requests,
        keep_messages=keep_messages,
    )
