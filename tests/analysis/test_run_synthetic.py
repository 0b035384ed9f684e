"""evolve.Run on synthetic runs: inspirations, a minimised objective, LLM cost,
an empty run, and clear errors for unknown ids."""

from __future__ import annotations

import json
import re
from itertools import pairwise
from pathlib import Path

import matplotlib
import networkx as nx
import numpy as np
import pytest

import evolve
from evolve.analysis.report import build_report
from evolve.analysis.summary import run_summary
from evolve.store import RunStore
from tests.analysis.synthetic import synthetic_run
from tests.problem_factory import write_problem

matplotlib.use("Agg")


def test_inspirations_are_edges_but_ancestry_follows_primary_parents(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 200, inspirations=True))
    graph = run.lineage()
    primary = [(u, v) for u, v, d in graph.edges(data=True) if d["primary"]]
    inspired = [(u, v) for u, v, d in graph.edges(data=True) if not d["primary"]]
    assert len(primary) == 199 and inspired  # every child but the seed has one primary edge
    assert nx.is_tree(graph.edge_subgraph(primary).to_undirected())
    for child in run.programs.index[1:]:
        chain = run.ancestry(child)
        assert chain[0] == child and chain[-1] == "p000000"
        assert all(graph.edges[p, c]["primary"] for c, p in pairwise(chain))


def test_a_minimised_objective_ranks_the_lowest_score_first(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 100, minimize=True))
    assert run.maximize is False
    best = run.best(5)
    assert list(best["score"]) == sorted(best["score"])
    assert best["score"].iloc[0] == run.programs["score"].min()
    progress = run.progress()
    assert (np.diff(progress["best"].dropna()) <= 0).all()  # best so far only falls
    assert progress["best"].iloc[-1] == run.programs["score"].min()
    last = progress["score"].iloc[-5:].median()
    assert run.progress(window=5)["median"].iloc[-1] == last


def test_llm_calls_and_the_progress_over_dollars(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 50, llm_cost=0.01))
    calls = run.llm_calls
    assert len(calls) == 49 and {"model", "cost_usd", "prompt_tokens"} <= set(calls.columns)
    spend = run.progress()["cost_usd"]
    assert spend.is_monotonic_increasing and spend.iloc[-1] == pytest.approx(0.49)
    costs = run.cost_summary()
    assert costs["calls"].sum() == 49 and costs["cost_usd"].sum() == pytest.approx(0.49)
    figure = run.plot_progress()
    assert len(figure.axes) == 2  # over evaluations and over dollars
    assert max(figure.axes[1].lines[0].get_xdata()) == pytest.approx(0.49)


def test_an_empty_run_opens(tmp_path: Path) -> None:
    RunStore.create(tmp_path / "run", {"problem": "tiny"}, write_problem(tmp_path / "p"))
    run = evolve.Run.open(tmp_path / "run")
    assert run.programs.empty and run.llm_calls.empty
    assert run.best(3).empty and run.path_to_best() == []
    assert run.lineage().number_of_nodes() == 0


def test_unknown_ids_and_paths_name_the_problem(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 10))
    with pytest.raises(KeyError, match="has no program 'nope'"):
        run.code("nope")
    with pytest.raises(KeyError, match="has no program"):
        run.diff("nope")
    with pytest.raises(Exception, match="not a run directory"):
        evolve.Run.open(tmp_path / "missing")


def test_code_is_read_only_for_the_programs_asked_for(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 300))
    best = str(run.best(1).index[0])
    assert run.code(best).startswith("def value():")
    assert list(run._code_cache) == [best]
    diff = run.diff(best)
    parent = run.parent(best)
    assert diff.startswith(f"--- {parent}\n+++ {best}\n")
    assert f"+    return {int(best[1:])}.0" in diff


def test_a_live_run_that_merges_its_segments_after_open_still_reads(tmp_path: Path) -> None:
    from evolve.records import Program, Status
    from evolve.store import COMPACT_AT

    path = synthetic_run(tmp_path, 20)
    opened = evolve.Run.open(path)  # before the merge, tables not read yet
    loaded = evolve.Run.open(path)
    assert len(loaded.programs) == 20  # read before the merge, code not yet
    writer = RunStore.open(path)
    for i in range(COMPACT_AT + 1):  # one commit each: the parts get merged and deleted
        writer.append_program(
            Program(id=f"late{i}", code=f"x = {i}\n", parent_ids=("p000000",), status=Status.OK)
        )
        writer.commit({})
    assert not (path / "programs" / "part-000001.parquet").exists()
    assert len(opened.programs) == 20 + COMPACT_AT + 1  # reads the latest checkpoint
    assert opened.code("late3") == "x = 3\n"
    assert loaded.code("p000004").startswith("def value")  # its files moved: read again
    assert len(loaded.programs) == 20  # a table once read stays as it was


def test_the_direction_comes_from_run_json_for_show_run_and_the_report(tmp_path: Path) -> None:
    # run.json records the direction once; the problem copy no longer matters.
    run_dir = synthetic_run(tmp_path, 30, minimize=True)
    assert json.loads((run_dir / "run.json").read_text())["objective"] == {
        "metric": "score",
        "direction": "minimize",
    }
    (run_dir / "problem" / "problem.toml").write_text('name = "tiny"\n')  # says maximize now
    run = evolve.Run.open(run_dir)
    assert run.maximize is False
    summary = run_summary(run_dir)
    assert summary["direction"] == "minimize"
    assert summary["best_score"] == run.programs["score"].min()
    page = build_report(run)
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert match is not None and json.loads(match.group(1))["maximize"] is False


def test_a_run_from_before_run_json_named_the_direction_reads_its_problem_copy(
    tmp_path: Path,
) -> None:
    run_dir = synthetic_run(tmp_path, 10, minimize=True)
    settings = json.loads((run_dir / "run.json").read_text())
    del settings["objective"]
    (run_dir / "run.json").write_text(json.dumps(settings))
    assert evolve.Run.open(run_dir).maximize is False
    assert run_summary(run_dir)["direction"] == "minimize"
