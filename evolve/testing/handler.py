"""The request handler of the mutator server: routing, auth, faults, replies.

Standard library only (``http.server``), so the server starts anywhere evolve
is installed. Each connection gets a daemon thread (see ``MutatorHTTPServer``):
a hung or slow request never blocks others and never keeps the process alive.
Sleeps (hangs, latency) wait on the server's closing event, so closing the
server ends them at once.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from evolve.mutation import MutationError
from evolve.mutation.offline import propose_for_messages
from evolve.novelty import HashedEmbedder, judged_programs
from evolve.testing.embeddings_wire import (
    EmbeddingRequest,
    embedding_body,
    parse_embedding_request,
)
from evolve.testing.faults import (
    OK,
    FaultPlan,
    bad_search_reply,
    garbage_reply,
    outside_block_reply,
)
from evolve.testing.judges import metric_judge_reply
from evolve.testing.meta_replies import meta_reply
from evolve.testing.wire import (
    ChatRequest,
    RequestError,
    completion_body,
    error_body,
    message_text,
    model_body,
    models_body,
    parse_chat_request,
    request_seed,
    stream_chunks,
)


class ServerState(Protocol):
    """What a request handler reads and updates of the running server
    (``evolve.testing.app.MutatorServer``), so the handler need not import it."""

    seed: int
    api_key: str | None
    faults: FaultPlan
    latency_s: float
    model: str
    vary: bool
    log_requests: bool
    created: int
    closing: threading.Event

    def track(self, conn: socket.socket, alive: bool) -> None: ...

    def count(self, outcome: str) -> None: ...

    def next_outcome(self) -> tuple[int, str]: ...

    def chat_started(self) -> None: ...

    def chat_ended(self) -> None: ...


__all__ = [
    "MAX_BODY_BYTES",
    "MutatorHTTPServer",
    "MutatorHTTPServer6",
    "RequestHandler",
    "ServerState",
    "judge_reply",
]

MAX_BODY_BYTES = 32 * 1024 * 1024
_log = logging.getLogger("evolve.testing")

# Injected HTTP errors: (status, message, type, code), worded as OpenAI's.
_HTTP_ERRORS = {
    "429": (429, "Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    "500": (500, "The server had an error while processing your request.", "server_error", None),
    "503": (503, "The engine is currently overloaded, please retry later.", "server_error", None),
}


_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def judge_reply(candidate: str, nearest: str) -> str:
    """The server's deterministic novelty judgement: NOT NOVEL when the two
    programs differ at most in numeric constants (the judge prompt's "a tweaked
    constant"), NOVEL otherwise."""

    def shape(code: str) -> list[str]:
        return _TOKEN.findall(_NUMBER.sub("0", code))

    if shape(candidate) == shape(nearest):
        return "NOT NOVEL\nThe programs differ only in numeric constants."
    return "NOVEL\nThe proposed program changes the code, not only its constants."


def _no_edit_reply(reason: str) -> str:
    """What a model says when it cannot see a program to edit: prose, no edit."""
    return (
        f"I cannot propose an edit for this request: {reason}.\n\n"
        "Please include the current program in a ```python block with its "
        "# EVOLVE-BLOCK-START / # EVOLVE-BLOCK-END markers."
    )


class MutatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # hung handlers must not keep the process alive
    block_on_close = False  # ... nor make server_close() wait for them
    request_queue_size = 128
    app: ServerState

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup
        # that can stall for seconds on machines without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away (timed out, cancelled): not our error
        _log.exception("mutator server: unexpected error serving %s", client_address)


class MutatorHTTPServer6(MutatorHTTPServer):
    address_family = socket.AF_INET6


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the openai client's pool expects
    server_version = "evolve-mutator/1"
    timeout = 300  # idle keep-alive connections end eventually
    # Headers and body go out in separate writes; with Nagle on, the client's
    # delayed ACK adds ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True
    server: MutatorHTTPServer

    @property
    def app(self) -> ServerState:
        return self.server.app

    def setup(self) -> None:
        super().setup()
        self.app.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.app.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.app.log_requests:
            super().log_message(format, *args)

    # -- routing ---------------------------------------------------------------

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") or path == "/v1" else path

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            body = self._read_body()
            route = self._route()
            self._authorize()
            if route == "/chat/completions":
                if method != "POST":
                    raise RequestError(405, f"{method} is not allowed on {self.path}; use POST")
                request = parse_chat_request(body)
                self.app.chat_started()
                try:
                    self._chat(request)
                finally:
                    self.app.chat_ended()
            elif route == "/embeddings":
                if method != "POST":
                    raise RequestError(405, f"{method} is not allowed on {self.path}; use POST")
                self._embeddings(parse_embedding_request(body))
            elif route == "/models" or route.startswith("/models/"):
                if method != "GET":
                    raise RequestError(405, f"{method} is not allowed on {self.path}; use GET")
                self._models(route[len("/models/") :] if route != "/models" else None)
            else:
                raise RequestError(404, f"Invalid URL ({method} {self.path})", code="not_found")
        except RequestError as err:
            outcome = {400: "bad_request", 401: "unauthorized", 404: "not_found"}
            self.app.count(outcome.get(err.status, f"http_{err.status}"))
            self._send_json(err.status, error_body(err))
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug here must still answer like a server
            _log.exception("mutator server: error answering %s", self.path)
            self.app.count("internal_error")
            internal = RequestError(500, f"internal error: {exc}", type="server_error")
            self._send_json(500, error_body(internal))

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                raise RequestError(411, "send the request body with a Content-Length header")
            return b""
        try:
            size = int(length)
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            self.close_connection = True  # the unread body would desync the connection
            raise RequestError(413, f"request body must be 0..{MAX_BODY_BYTES} bytes")
        return self.rfile.read(size)

    def _authorize(self) -> None:
        key = self.app.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), key.encode()
        ):
            raise RequestError(
                401,
                "Incorrect API key provided. Pass it as 'Authorization: Bearer <key>'.",
                code="invalid_api_key",
            )

    # -- endpoints -------------------------------------------------------------

    def _models(self, model: str | None) -> None:
        app = self.app
        if model is None:
            app.count("models")
            self._send_json(200, models_body(app.model, app.created))
        elif model == app.model:
            app.count("models")
            self._send_json(200, model_body(app.model, app.created))
        else:
            raise RequestError(
                404, f"The model '{model}' does not exist", code="model_not_found", param="model"
            )

    def _embeddings(self, request: EmbeddingRequest) -> None:
        """Hashed n-gram vectors (evolve.novelty's offline embedder) at the
        requested size: deterministic, so runs through the server replay."""
        self.app.count("embeddings")
        vectors = HashedEmbedder(request.dimensions).embed_now(request.inputs)
        self._send_json(200, embedding_body(request, vectors))

    def _chat(self, request: ChatRequest) -> None:
        app = self.app
        index, outcome = app.next_outcome()
        nonce = index if app.vary else None
        seeds = [request_seed(app.seed, request, i, nonce) for i in range(request.n)]
        completion_id = f"chatcmpl-evolve-{index}-{seeds[0]:016x}"
        if app.latency_s > 0 and app.closing.wait(app.latency_s):
            self.close_connection = True
            return
        if outcome == "hang":
            app.count("hang")
            app.closing.wait(app.faults.hang_s)  # close() ends it early
            self.close_connection = True  # ... and then: no answer at all
            return
        headers = {"x-request-id": completion_id}
        if outcome in ("429_retry_after", "429", "500", "503"):
            app.count(outcome)
            status, message, kind, code = _HTTP_ERRORS[outcome[:3]]
            if outcome == "429_retry_after":
                headers["Retry-After"] = f"{app.faults.retry_after_s:g}"
            err = RequestError(status, f"{message} (evolve: injected fault)", type=kind, code=code)
            self._send_json(status, error_body(err), headers)
            return
        text = "\n\n".join(message_text(m) for m in request.messages)
        replies = [self._reply(outcome, request, text, seed) for seed in seeds]
        if outcome == "empty_choices":
            replies = []
        final = outcome
        if outcome == OK and any(r[1] for r in replies):
            final = "no_edit"
        app.count(final)
        headers["x-evolve-outcome"] = final
        contents = [r[0] for r in replies]
        created = int(time.time())
        if request.stream:
            chunks = stream_chunks(request, contents, completion_id=completion_id, created=created)
            self._send_stream(chunks, headers)
        else:
            body = completion_body(request, contents, completion_id=completion_id, created=created)
            self._send_json(200, body, headers)

    def _reply(self, outcome: str, request: ChatRequest, text: str, seed: int) -> tuple[str, bool]:
        """(content, whether the mutator could not propose) for one choice."""
        if outcome == "garbage":
            return garbage_reply(seed), False
        if outcome == "bad_search":
            return bad_search_reply(text, seed), False
        if outcome == "outside_block":
            reply = outside_block_reply(text, seed)
            if reply is not None:
                return reply, False
        judged = judged_programs(request.messages)
        if judged is not None:
            return judge_reply(*judged), False
        meta = meta_reply(request.messages)
        if meta is not None:
            return meta, False
        rated = metric_judge_reply(request.messages)
        if rated is not None:
            return rated, False
        try:
            return propose_for_messages(request.messages, seed=seed), False
        except MutationError as exc:
            return _no_edit_reply(str(exc).rstrip(".")), True

    # -- writing ---------------------------------------------------------------

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, chunks: list[dict[str, Any]], headers: dict[str, str]) -> None:
        """Server-sent events in chunked transfer encoding (keeps keep-alive)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
        events.append(b"data: [DONE]\n\n")
        for event in events:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
        self.wfile.write(b"0\r\n\r\n")
