"""`evolve review`, `evolve approve`, `evolve reject`: a human's decisions on a
run's programs (``evolve.analysis.review``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evolve.analysis.review import decide, review_items
from evolve.cli.terminal import printable
from evolve.store.reviews import DecisionKind

__all__ = ["register"]


def cmd_review(args: argparse.Namespace) -> int:
    items = review_items(Path(args.run_dir), include_decided=args.all)
    if args.json:
        print(json.dumps(items, indent=2))
        return 0
    if not items:
        print("nothing awaits a decision" + ("" if args.all else " (--all shows decided ones)"))
        return 0
    for item in items:
        # program text, metric names and notes come from candidates and people:
        # shown, never obeyed (evolve.cli.terminal)
        state = item["decision"] or "awaiting a decision"
        if item["decision"]:
            state += f" by {item['decided_by']}: {item['note']}"
        print(f"== {item['id']}  score {item['score']:.8g}  iteration {item['iteration']}  "
              f"parent {item['parent'] or '-'}  model {item['model'] or '-'}")  # fmt: skip
        print(printable(f"   {state}", one_line=True))
        metrics = ", ".join(f"{k} = {v}" for k, v in sorted(item["metrics"].items()))
        print(printable(f"   metrics: {metrics}", one_line=True))
        print(printable(item["diff"].rstrip() or "   (the seed: no parent)"))
        print()
    print(f"decide with: evolve approve|reject {args.run_dir} ID --note TEXT")
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    decision: DecisionKind = "approved" if args.command == "approve" else "rejected"
    made = decide(Path(args.run_dir), args.program_id, decision, args.note, args.by)
    print(printable(f"{made.program_id} {made.decision} by {made.by}: {made.note}", one_line=True))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``review``, ``approve`` and ``reject`` to the command parser."""
    review = sub.add_parser("review", help="list the programs awaiting a decision (new bests)")
    review.add_argument("run_dir")
    review.add_argument("--all", action="store_true", help="also those already decided")
    review.add_argument("--json", action="store_true", help="print them as JSON")
    review.set_defaults(func=cmd_review)
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        parser = sub.add_parser(name, help=f"{verb} a program, with who, when and why")
        parser.add_argument("run_dir")
        parser.add_argument("program_id")
        parser.add_argument("--note", required=True, help="why (kept with the decision)")
        parser.add_argument("--by", default=None, help="who decides (default user@host)")
        parser.set_defaults(func=cmd_decide)
