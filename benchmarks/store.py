"""Run store at scale: append throughput, open + read-all, and a lineage graph.

For each size N, one fresh process writes a run of N synthetic programs through
``RunStore`` as a busy run does: per program its row, its code (~1.6 kB, every
text distinct), an evaluation row and an LLM call row, an event every 10
programs, a commit every 256 programs (the controller commits every 256 records
or every second). Then a second fresh process (so its peak memory is the
reading alone) opens the run and reads every table, and builds a networkx
lineage ``DiGraph`` (edge parent -> child for every id in ``parent_ids``) from
the two columns ``id``, ``parent_ids``. Read timings are medians of
``--repeats`` runs; peak RSS is the reading process's ru_maxrss, next to its
RSS after imports.

    .venv/bin/python benchmarks/store.py [--sizes 10000,100000] [--repeats 3]
    .venv/bin/python benchmarks/store.py --chain-cost [--sizes 10000]

Targets (issue 7): appends >= 5,000 records/s; lineage of 100k programs <= 5 s.
``--chain-cost`` (issue 18: the record hash chain must not slow appends beyond
noise): the same writes with the chain and with its hashing stubbed out (the
hash and the parents' hash lookups), alternated in fresh processes, medians.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COMMIT_EVERY = 256

CODE = "def priority(item, bins):\n" + "".join(
    f"    score_{i} = bins * {i}.5 - item  # a line of a typical evolved program\n"
    for i in range(25)
)


def write(run: Path, n: int, chain: bool = True) -> dict:
    """Append ``n`` programs (and their code, evaluation, LLM call, events);
    ``chain`` False stubs out the record hash chain's work, for comparison."""
    from evolve.records import Program, Status
    from evolve.store import RunStore, run_store
    from tests.problem_factory import write_problem

    if not chain:
        run_store.record_hash = lambda row, previous, parents: ""  # type: ignore[assignment]
        RunStore._record_hash_of = lambda self, program_id: ""  # type: ignore[method-assign]

    rng = random.Random(0)
    store = RunStore.create(run, {"problem": "bench"}, write_problem(run.parent / "problem"))
    records = 0
    started = time.perf_counter()
    for i in range(n):
        parent = f"p{rng.randrange(i):07d}" if i else None
        inspirations = tuple(f"p{rng.randrange(i):07d}" for _ in range(min(i, 2)))
        program = Program(
            id=f"p{i:07d}",
            code=CODE + f"    return score_{i % 25}  # {i}\n",
            parent_ids=(parent, *inspirations) if parent else (),
            island=i % 5,
            generation=i // 100,
            iteration=i,
            created_at=float(i),
            status=Status.OK if i % 7 else Status.ERROR,
            metrics={"score": rng.random(), "size": float(i % 50), "time": rng.random()},
            score=rng.random(),
            fitness=rng.random(),
            artifacts={"stdout": "x" * 80} if i % 3 == 0 else {},
            edit_kind="diff",
            model="offline",
            llm_call_id=f"c{i}",
            wall_time_s=0.2,
        )
        store.append_program(program)
        store.append_evaluation(program, peak_memory_mb=40.0, stage_reached=1)
        store.append_llm_call(
            {"id": f"c{i}", "model": "offline", "prompt_tokens": 900, "completion_tokens": 300}
        )
        records += 4  # program, code, evaluation, LLM call
        if i % 10 == 0:
            store.append_event("migration", i, {"from": i % 5, "to": (i + 1) % 5})
            records += 1
        if i % COMMIT_EVERY == COMMIT_EVERY - 1:
            store.commit({"controller": {"evaluations": i}})
    store.commit({})
    seconds = time.perf_counter() - started
    files = sum(1 for _ in run.rglob("*.parquet"))
    return {"records_per_s": records / seconds, "programs_per_s": n / seconds, "files": files}


def read(run: Path, repeats: int) -> dict:
    """Open + read every table; lineage DiGraph from (id, parent_ids)."""
    import networkx as nx

    from evolve.store import TABLES, RunStore

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    open_read, lineage = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        store = RunStore.open(run)
        rows = {table: store.read_table(table).num_rows for table in TABLES}
        open_read.append(time.perf_counter() - started)
        del store
    for _ in range(repeats):
        started = time.perf_counter()
        table = RunStore.open(run).read_table("programs", columns=["id", "parent_ids"])
        ids = table.column("id").to_pylist()
        graph = nx.DiGraph()
        graph.add_nodes_from(ids)
        graph.add_edges_from(
            (parent, child)
            for child, parents in zip(ids, table.column("parent_ids").to_pylist(), strict=True)
            for parent in parents
        )
        lineage.append(time.perf_counter() - started)
    assert graph.number_of_nodes() == rows["programs"]
    return {
        "open_read_s": statistics.median(open_read),
        "lineage_s": statistics.median(lineage),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_mb": baseline,
        "rows": rows,
    }


def chain_cost(sizes: list[int], repeats: int) -> None:
    print("| programs | appends/s with the chain | without | ratio |")
    print("|---:|---:|---:|---:|")
    for n in sizes:
        rates: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(repeats):
            for chain in (True, False):  # alternated, so drift hits both alike
                with tempfile.TemporaryDirectory() as tmp:
                    flag = () if chain else ("--no-chain",)
                    out = _child("--write", str(Path(tmp) / "run"), str(n), *flag)
                rates[chain].append(out["records_per_s"])
        with_chain, without = (statistics.median(rates[c]) for c in (True, False))
        print(f"| {n:,} | {with_chain:,.0f} | {without:,.0f} | {with_chain / without:.2f} |")


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chain-cost", action="store_true", help="appends with/without the chain")
    parser.add_argument("--write", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--no-chain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        print(json.dumps(write(Path(args.write[0]), int(args.write[1]), not args.no_chain)))
        return
    if args.chain_cost:
        chain_cost([int(s) for s in args.sizes.split(",")], args.repeats)
        return
    if args.read:
        print(json.dumps(read(Path(args.read), args.repeats)))
        return
    print(
        "| programs | append records/s | append programs/s | parquet files "
        "| open + read all s | peak RSS MB (after imports) | lineage DiGraph s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            w = _child("--write", str(run), str(n))
            r = _child("--read", str(run), "--repeats", str(args.repeats))
        print(
            f"| {n:,} | {w['records_per_s']:,.0f} | {w['programs_per_s']:,.0f} | {w['files']} "
            f"| {r['open_read_s']:.2f} | {r['rss_mb']:.0f} ({r['baseline_mb']:.0f}) "
            f"| {r['lineage_s']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
