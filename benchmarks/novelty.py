"""What the novelty check costs per proposed child, with the islands full.

Fills one island with N variants of function_minimization's seed (random
constants, so no two are equal), then checks fresh children against it the way
a run does (``NoveltyFilter.check_now``: embed the child with the offline hashed
embedder, search the island's matrix and the queue). Reports the median embed,
search and whole-check times per child, and the search alone at the size of an
API embedding model (1,536 dimensions), at each N. Prints a markdown table.

    .venv/bin/python benchmarks/novelty.py [--sizes 1000,10000,50000] [--checks 300]

Target (issue 16): the offline embedder's check <= 1 ms per child at 10k
programs on an island.

The novelty-on/off comparison at a matched evaluation budget is
``evolve bench problems/function_minimization --arm evolve --arm novelty``
(results in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve.config import NoveltyConfig
from evolve.database import DatabaseConfig, PopulationDatabase
from evolve.novelty import HashedEmbedder, NoveltyFilter, VectorIndex
from evolve.records import Program, Status

SEED = (
    Path(__file__).resolve().parents[1] / "problems" / "function_minimization" / "initial.py"
).read_text()
NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def variant(rng: np.random.Generator, k: int) -> str:
    """The seed with every number replaced by a random one, and a tag line."""
    code = NUMBER.sub(lambda _: f"{rng.uniform(0, 100):.4f}", SEED)
    return code.replace("# EVOLVE-BLOCK-END", f"    _variant = {k}\n# EVOLVE-BLOCK-END", 1)


def program(pid: str, code: str, parent: str | None) -> Program:
    return Program(
        id=pid,
        code=code,
        parent_ids=(parent,) if parent else (),
        island=0,
        status=Status.OK,
        fitness=0.0,
        score=0.0,
    )


def filled(size: int, rng: np.random.Generator) -> NoveltyFilter:
    database = PopulationDatabase(
        DatabaseConfig(num_islands=1, migration_interval=10**9, archive_size=0), seed=0
    )
    novelty = NoveltyFilter(
        NoveltyConfig(enabled=True, threshold=0.999999, max_rejections=10**6),
        HashedEmbedder(),
        database,
    )
    novelty.rebuild({})
    for k in range(size):
        child = program(f"p{k}", variant(rng, k), None if k == 0 else "p0")
        events = database.add(child)
        novelty.added(child, events)
    # the first check embeds every member not yet placed: a one-off, left out
    novelty.check_now(program("warm", variant(rng, -1), "p0"))
    return novelty


def measure(size: int, checks: int) -> dict[str, float]:
    rng = np.random.default_rng(size)
    novelty = filled(size, rng)
    children = [program(f"c{k}", variant(rng, size + k), "p0") for k in range(checks)]
    embed, search, whole = [], [], []
    for child in children:
        before = (novelty.stats.embed_seconds, novelty.stats.search_seconds)
        started = time.perf_counter()
        novelty.check_now(child)
        whole.append(time.perf_counter() - started)
        embed.append(novelty.stats.embed_seconds - before[0])
        search.append(novelty.stats.search_seconds - before[1])
    assert novelty.index is not None and len(novelty.index.members(0)) == size
    return {
        "embed_ms": 1e3 * statistics.median(embed),
        "search_ms": 1e3 * statistics.median(search),
        "check_ms": 1e3 * statistics.median(whole),
        "search_1536_ms": search_at(size, 1536, checks, rng),
    }


def search_at(size: int, dimensions: int, checks: int, rng: np.random.Generator) -> float:
    """The island search alone with vectors of ``dimensions`` (an API model's)."""
    index = VectorIndex(dimensions)
    vectors = rng.normal(size=(size, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for k, vector in enumerate(vectors):
        index.remember(f"p{k}", vector)
        index.place(0, f"p{k}")
    times = []
    for query in vectors[: min(checks, size)]:
        started = time.perf_counter()
        index.nearest(query, [0])
        times.append(time.perf_counter() - started)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--checks", type=int, default=300)
    args = parser.parse_args()
    print("| programs on the island | embed (ms) | search (ms) | whole check (ms) |", end="")
    print(" search, 1,536 dims (ms) |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        found = measure(size, args.checks)
        print(
            f"| {size:,} | {found['embed_ms']:.3f} | {found['search_ms']:.3f} | "
            f"{found['check_ms']:.3f} | {found['search_1536_ms']:.3f} |"
        )


if __name__ == "__main__":
    main()
