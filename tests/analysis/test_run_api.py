"""evolve.Run: tables, lineage, ancestry, diffs and plots on real and synthetic runs."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import networkx as nx
import pytest

import evolve
from evolve.analysis.export import export_program
from evolve.engine.controller import RunLimits
from evolve.engine.runner import RunOptions, start_run
from tests.analysis.synthetic import synthetic_run
from tests.problem_factory import write_problem

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("real")
    problem = write_problem(root / "problem")
    start_run(problem, root / "run", RunOptions(seed=1), RunLimits(evaluations=30, concurrency=2))
    return root / "run"


def test_programs_table_has_one_row_per_program_and_metric_columns(real_run: Path) -> None:
    run = evolve.Run.open(real_run)
    programs = run.programs
    assert len(programs) == len(set(programs.index)) >= 31
    assert "metric.score" in programs.columns
    ok = programs[programs["status"] == "ok"]
    assert (ok["metric.score"] == ok["score"]).all()


def test_lineage_has_every_program_and_its_parent_edges(real_run: Path) -> None:
    run = evolve.Run.open(real_run)
    graph = run.lineage()
    assert isinstance(graph, nx.DiGraph)
    assert set(graph.nodes) == set(run.programs.index)
    expected = sum(len(p) for p in run.programs["parent_ids"])
    assert graph.number_of_edges() == expected
    seed = run.programs.index[0]
    assert graph.in_degree(seed) == 0
    assert all(nx.has_path(graph, seed, node) for node in graph.nodes)
    some_child = next(iter(graph.successors(seed)))
    assert graph.edges[seed, some_child]["primary"] in (True, False)
    assert "score" in graph.nodes[seed] and "island" in graph.nodes[seed]


def test_best_ancestry_diff_and_path(real_run: Path) -> None:
    run = evolve.Run.open(real_run)
    best = run.best(3)
    assert list(best["score"]) == sorted(best["score"], reverse=True)
    top = best.index[0]
    path = run.path_to_best()
    assert path[0] == run.programs.index[0] and path[-1] == top
    assert run.ancestry(top) == list(reversed(path))
    diff = run.diff(top)
    parent = run.parent(top)
    assert diff.startswith(f"--- {parent}\n+++ {top}\n") or diff == ""
    assert run.diff(path[0]) == ""


def test_export_writes_the_best_program(real_run: Path, tmp_path: Path) -> None:
    run = evolve.Run.open(real_run)
    out = export_program(real_run, out=tmp_path / "best.py")
    assert out.read_text() == run.code(run.best(1).index[0])
    with pytest.raises(ValueError, match="has no program"):
        export_program(real_run, program_id="nope")


def test_plots_return_figures_with_the_data(real_run: Path) -> None:
    run = evolve.Run.open(real_run)
    progress = run.plot_progress()
    best_line = progress.axes[0].lines[0]
    assert len(best_line.get_xdata()) == len(run.progress())
    lineage = run.plot_lineage()
    assert len(lineage.axes[0].collections[1].get_offsets()) == len(run.programs)
    islands = run.plot_islands()
    assert len(islands.axes[1].patches) == run.programs["island"].nunique()


def test_a_large_run_is_sampled_in_the_plot_but_complete_in_the_graph(tmp_path: Path) -> None:
    run = evolve.Run.open(synthetic_run(tmp_path, 3000))
    assert run.lineage().number_of_nodes() == 3000
    figure = run.plot_lineage(max_nodes=500)
    shown = len(figure.axes[0].collections[1].get_offsets())
    assert shown < 3000 and "sample" in figure.axes[0].get_title()


def test_a_live_run_opens_with_what_was_committed(tmp_path: Path) -> None:
    path = synthetic_run(tmp_path, 50)
    from evolve.records import Program, Status
    from evolve.store import RunStore

    store = RunStore.open(path)
    store.append_program(Program(id="pending", code="x = 1\n", status=Status.OK))  # not committed
    assert "pending" not in evolve.Run.open(path).programs.index
