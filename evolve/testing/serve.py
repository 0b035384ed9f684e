"""The mutator server's command line: ``evolve mutator serve`` and
``python -m evolve.testing`` (flags, fault plan, serve until Ctrl-C)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from evolve.testing.app import DEFAULT_MODEL, serve_in_thread
from evolve.testing.faults import FAULT_KINDS, FaultPlan

__all__ = ["add_arguments", "api_key_from_args", "fault_plan_from_args", "main", "run"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _weights(text: str) -> dict[str, float]:
    """``"500=2,hang=0.5"`` -> ``{"500": 2.0, "hang": 0.5}`` (argparse type)."""
    weights: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        try:
            weights[kind.strip()] = float(value) if sep else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"bad weight {item!r}; write KIND=NUMBER") from None
    return weights


def _script(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``evolve mutator serve`` (for the main CLI to reuse)."""
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free one)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default loopback only)"
    )
    parser.add_argument("--seed", type=int, default=0, help="server seed; changes every edit")
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key-env",
        default=None,
        metavar="VAR",
        help="require 'Authorization: Bearer KEY', KEY read from environment variable VAR",
    )
    key.add_argument(
        "--api-key-file",
        default=None,
        metavar="PATH",
        help="require 'Authorization: Bearer KEY', KEY read from PATH (first line)",
    )
    # A key given on the command line is readable by every local process
    # (/proc/PID/cmdline); the flag stays only to say so.
    key.add_argument("--api-key", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model id listed by /v1/models")
    parser.add_argument(
        "--latency", type=float, default=0.0, metavar="S", help="delay every completion by S s"
    )
    faults = parser.add_argument_group("fault injection")
    faults.add_argument(
        "--fail-rate", type=float, default=0.0, metavar="X", help="share of faulty replies [0, 1]"
    )
    faults.add_argument(
        "--fault-weights",
        type=_weights,
        default=None,
        metavar="K=W,...",
        help=f"relative weights of fault kinds (default all 1; unnamed kinds 0 when given); "
        f"kinds: {', '.join(FAULT_KINDS)}",
    )
    faults.add_argument(
        "--fault-script",
        type=_script,
        default=(),
        metavar="K,...",
        help="outcomes of the first requests in order, e.g. 429_retry_after,ok,500",
    )
    faults.add_argument(
        "--fault-seed", type=int, default=None, help="seed of the fault draw (default: --seed)"
    )
    faults.add_argument(
        "--retry-after", type=float, default=1.0, metavar="S", help="Retry-After of 429 faults"
    )
    faults.add_argument(
        "--hang", type=float, default=30.0, metavar="S", help="how long a 'hang' holds a request"
    )
    parser.add_argument(
        "--vary",
        action="store_true",
        help="mix the request number into the seed, like sampling at temperature > 0: "
        "identical prompts get different edits (reproducible only for sequential requests)",
    )
    parser.add_argument("--log-requests", action="store_true", help="log each request to stderr")


def fault_plan_from_args(args: argparse.Namespace) -> FaultPlan:
    """The ``FaultPlan`` the fault-injection flags describe (ValueError if invalid)."""
    weights = args.fault_weights
    if weights is not None:
        weights = {kind: weights.get(kind, 0.0) for kind in FAULT_KINDS} | weights
    return FaultPlan(
        fail_rate=args.fail_rate,
        **({"weights": weights} if weights is not None else {}),
        script=args.fault_script,
        retry_after_s=args.retry_after,
        hang_s=args.hang,
        seed=args.fault_seed,
    )


def api_key_from_args(args: argparse.Namespace) -> str | None:
    """The key the server requires, from ``--api-key-env`` or ``--api-key-file``
    (ValueError naming the variable or file when it is not there)."""
    if args.api_key is not None:
        raise ValueError(
            "--api-key puts the key on the command line, where any local process can read "
            "it (/proc/PID/cmdline); pass --api-key-env VAR or --api-key-file PATH instead"
        )
    if args.api_key_env is not None:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            raise ValueError(f"--api-key-env {args.api_key_env}: the variable is not set")
        return key
    if args.api_key_file is not None:
        try:
            key = Path(args.api_key_file).read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ValueError(f"--api-key-file {args.api_key_file}: no key there ({exc})") from None
        if not key:
            raise ValueError(f"--api-key-file {args.api_key_file}: the first line is empty")
        return key
    return None


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM (e.g. a benchmark ending) stops like Ctrl-C


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; 0 on a clean stop, 2 on bad settings."""
    try:
        plan = fault_plan_from_args(args)
        server = serve_in_thread(
            args.host,
            args.port,
            seed=args.seed,
            api_key=api_key_from_args(args),
            faults=plan,
            latency_s=args.latency,
            model=args.model,
            vary=args.vary,
            log_requests=args.log_requests,
        )
    except (ValueError, OSError) as exc:
        print(f"evolve mutator serve: {exc}", file=sys.stderr)
        return 2
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop)
    # The base URL alone on stdout's first line, so scripts can read it
    # (useful with --port 0); the details go to stderr.
    print(server.base_url, flush=True)
    if args.host not in _LOOPBACK:
        print(f"warning: listening on {args.host}, not only loopback", file=sys.stderr)
    print(
        f"evolve mutator server: model {server.model!r}, seed {args.seed}, "
        f"fail rate {plan.fail_rate:g}, auth {'on' if server.api_key else 'off'}; Ctrl-C stops it",
        file=sys.stderr,
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        counts = ", ".join(f"{k}={v}" for k, v in sorted(server.stats.items())) or "none"
        print(f"evolve mutator server stopped; requests: {counts}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Standalone entry: ``python -m evolve.testing --port 8000``."""
    parser = argparse.ArgumentParser(
        prog="evolve mutator serve",
        description="Serve the offline mutator as an OpenAI-compatible chat-completions API.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
