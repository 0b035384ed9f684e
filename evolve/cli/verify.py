"""`evolve verify`: re-score a run's best programs, check its records and problem
files, and write a certificate for the best (``evolve.engine.verify``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evolve.cli.terminal import printable
from evolve.engine.verify import Verification, verify_run
from sandboxes.factory import SANDBOX_KINDS

__all__ = ["format_verification", "register"]


def format_verification(found: Verification) -> str:
    """The table and the checks, as ``evolve verify`` prints them."""
    chain = found.chain
    lines = [f"run      {found.run_dir}"]
    if found.problem_changes:
        lines.append("problem  NOT as pinned:")
        lines += [f"  {printable(change)}" for change in found.problem_changes]
    else:
        lines.append("problem  every file as pinned")
    for accepted in found.accepted_changes:
        lines.append(f"  accepted change at {printable(accepted)}")
    if chain is not None:
        state = "holds" if chain.ok else f"BROKEN: {chain.problem}"
        unhashed = f", {chain.unhashed} older records without a hash" if chain.unhashed else ""
        lines.append(f"records  chain {state} ({chain.checked} checked{unhashed})")
    if found.rescores:
        # a held-out column when the problem has a held-out scorer (evaluate_holdout)
        held = any(r.holdout is not None for r in found.rescores)
        lines.append("")
        lines.append(
            f"{'program':<10} {'recorded':>14} {'repeats':<32} "
            + (f"{'held-out':>14} " if held else "")
            + "verdict"
        )
        for r in found.rescores:
            recorded = r.recorded_status if r.recorded_score is None else f"{r.recorded_score:.8g}"
            repeats = ", ".join(
                status if score is None else f"{score:.8g}"
                for status, score in zip(r.statuses, r.scores, strict=True)
            )
            holdout = ""
            if held:
                h = r.holdout
                text = "-" if h is None else h.status if h.score is None else f"{h.score:.8g}"
                holdout = f"{text:>14} "
            verdict = r.verdict + (f" ({r.detail})" if r.detail else "")
            lines.append(
                f"{r.program_id:<10} {recorded:>14} {repeats:<32} {holdout}{printable(verdict)}"
            )
    if found.certificate is not None:
        lines.append("")
        lines.append(f"certificate {found.certificate}")
    lines.append("")
    lines.append("verified: every check passed" if found.ok else "NOT verified: see above")
    return "\n".join(lines)


def cmd_verify(args: argparse.Namespace) -> int:
    found = verify_run(
        Path(args.run_dir),
        top=args.top,
        repeats=args.repeats,
        sandbox=args.sandbox,
        certificate=Path(args.certificate) if args.certificate else None,
    )
    print(format_verification(found))
    return 0 if found.ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` to the command parser."""
    verify = sub.add_parser(
        "verify",
        help="re-score the best programs in fresh sandboxes, check the record chain and "
        "the problem files, write a certificate (exit 1 on any mismatch)",
    )
    verify.add_argument("run_dir")
    verify.add_argument("--top", type=int, default=3, help="programs to re-score (default 3)")
    verify.add_argument(
        "--repeats", type=int, default=2, help="scorings of each, fresh sandbox each (default 2)"
    )
    verify.add_argument(
        "--sandbox",
        choices=SANDBOX_KINDS,
        default=None,
        help="where to re-score (default: the run's own sandbox)",
    )
    verify.add_argument(
        "--certificate",
        default=None,
        help="where to write the certificate (default RUN/verify/certificate-ID.json)",
    )
    verify.set_defaults(func=cmd_verify)
