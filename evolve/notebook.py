"""Inspect a run from a notebook: tables, the lineage graph, diffs, pictures.

    import evolve
    run = evolve.Run.open("runs/function_minimization-20261122-101500")
    run.programs.head()            # one row per program, metrics as columns
    run.best(5)                    # the top programs
    g = run.lineage()              # networkx.DiGraph, parent -> child
    print(run.diff(run.best(1).index[0]))
    run.path_to_best()             # ids from the seed to the best program
    run.plot_progress(); run.plot_lineage(); run.plot_islands()

Everything is read from the run store (Parquet), so a live run can be opened
too (it shows what was committed so far). Tables are built column-wise with
pyarrow and pandas, and code is loaded only when asked for, so a run of 100k
programs opens in seconds (see benchmarks/store.py).
"""

from __future__ import annotations

import difflib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

import networkx as nx
import pandas as pd
import pyarrow.compute as pc

from evolve.store import RunStore

__all__ = ["Run"]


def _expand_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` (JSON text) as one float column per metric name."""
    parsed = [json.loads(text) if text else {} for text in frame["metrics"]]
    metrics = pd.DataFrame.from_records(parsed, index=frame.index)
    metrics.columns = [f"metric.{name}" for name in metrics.columns]
    return pd.concat([frame, metrics], axis=1)


class Run:
    """A read-only view of one run directory."""

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.path = store.root

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Open ``path`` (a run directory, finished or live)."""
        return cls(RunStore.open(Path(path)))

    # -- tables -------------------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """The run's settings (run.json): problem, seed, sandbox, models, ..."""
        return self._store.settings

    @cached_property
    def programs(self) -> pd.DataFrame:
        """One row per program, indexed by id, in recording order; metrics as
        ``metric.<name>`` columns; ``parent_id`` is the primary parent."""
        table = self._store.read_table("programs")
        frame = table.to_pandas()
        frame["parent_id"] = pd.Series(
            [ids[0] if len(ids) else None for ids in frame["parent_ids"]], dtype=object
        )
        frame = _expand_metrics(frame).set_index("id", drop=False)
        frame.index.name = None
        return frame

    @cached_property
    def llm_calls(self) -> pd.DataFrame:
        """One row per LLM call: model, tokens, cost, latency, retries, error."""
        return self._store.read_table("llm_calls").to_pandas()

    @cached_property
    def events(self) -> pd.DataFrame:
        """Migrations, rejected edits, resets, stops... with their payloads."""
        frame = self._store.read_table("events").to_pandas()
        frame["payload"] = [json.loads(p) for p in frame["payload"]]
        return frame

    @cached_property
    def _codes(self) -> dict[str, str]:
        table = self._store.read_table("code")
        return dict(
            zip(
                table.column("code_hash").to_pylist(), table.column("code").to_pylist(), strict=True
            )
        )

    @cached_property
    def _maximize(self) -> bool:
        try:
            return self._store_problem_direction() != "minimize"
        except Exception:
            return True

    def _store_problem_direction(self) -> str:
        from evolve.problem import load_problem

        return load_problem(self._store.problem_dir).spec.objective.direction

    # -- single programs ------------------------------------------------------------

    def code(self, program_id: str) -> str:
        """The source of one program."""
        return self._codes[self.programs.at[program_id, "code_hash"]]

    def best(self, k: int = 1) -> pd.DataFrame:
        """The ``k`` best scored programs (objective direction of the problem)."""
        scored = self.programs[self.programs["score"].notna()]
        return scored.sort_values("score", ascending=not self._maximize, kind="stable").head(k)

    def parent(self, program_id: str) -> str | None:
        """The primary parent of ``program_id`` (None for the seed)."""
        parent = self.programs["parent_id"].get(program_id)
        return None if parent is None or pd.isna(parent) else str(parent)

    def ancestry(self, program_id: str) -> list[str]:
        """Primary parents from ``program_id`` back to the seed (the program first)."""
        chain = [program_id]
        while (parent := self.parent(chain[-1])) is not None and parent not in chain:
            chain.append(parent)
        return chain

    def path_to_best(self) -> list[str]:
        """Program ids from the seed to the best program."""
        best = self.best(1)
        return [] if best.empty else list(reversed(self.ancestry(best.index[0])))

    def diff(self, program_id: str, context: int = 3) -> str:
        """Unified diff of ``program_id`` against its primary parent ('' for the seed)."""
        parent = self.parent(program_id)
        if parent is None:
            return ""
        return "".join(
            difflib.unified_diff(
                self.code(parent).splitlines(keepends=True),
                self.code(program_id).splitlines(keepends=True),
                fromfile=parent,
                tofile=program_id,
                n=context,
            )
        )

    # -- the lineage graph ------------------------------------------------------------

    def lineage(self) -> nx.DiGraph:
        """Every program as a node (also those the database evicted), an edge from
        each parent to its child. Node attributes: score, status, island,
        generation, iteration, model, edit_kind, metrics (dict); edge attributes:
        ``primary`` (False for inspirations), model, edit_kind."""
        table = self._store.read_table("programs")
        cols = {
            name: table.column(name).to_pylist()
            for name in (
                "id",
                "score",
                "status",
                "island",
                "generation",
                "iteration",
                "model",
                "edit_kind",
                "metrics",
            )
        }
        parent_lists = table.column("parent_ids").to_pylist()
        graph = nx.DiGraph()
        ids = cols["id"]
        graph.add_nodes_from(
            (
                ids[i],
                {
                    "score": cols["score"][i],
                    "status": cols["status"][i],
                    "island": cols["island"][i],
                    "generation": cols["generation"][i],
                    "iteration": cols["iteration"][i],
                    "model": cols["model"][i],
                    "edit_kind": cols["edit_kind"][i],
                    "metrics": json.loads(cols["metrics"][i] or "{}"),
                },
            )
            for i in range(len(ids))
        )
        graph.add_edges_from(
            (
                parent,
                ids[i],
                {"primary": k == 0, "model": cols["model"][i], "edit_kind": cols["edit_kind"][i]},
            )
            for i, parents in enumerate(parent_lists)
            for k, parent in enumerate(parents or ())
        )
        return graph

    # -- summaries for plots and the report ----------------------------------------------

    def progress(self) -> pd.DataFrame:
        """Per evaluation, in order: its score, the best and median so far, and the
        LLM dollars spent so far (0 without LLM calls)."""
        frame = self.programs[self.programs["duplicate_of"].isna()][["id", "score", "created_at"]]
        frame = frame.reset_index(drop=True)
        scores = frame["score"]
        frame["best"] = scores.cummax() if self._maximize else scores.cummin()
        frame["median"] = scores.expanding().median()
        calls = self.llm_calls
        if len(calls):
            times = calls.sort_values("created_at")
            spent = times["cost_usd"].fillna(0).cumsum().to_numpy()
            idx = times["created_at"].searchsorted(frame["created_at"], side="right")
            frame["cost_usd"] = [float(spent[i - 1]) if i else 0.0 for i in idx]
        else:
            frame["cost_usd"] = 0.0
        frame.index.name = "evaluation"
        return frame

    def island_summary(self) -> pd.DataFrame:
        """Programs, best and median score per island."""
        scored = self.programs[self.programs["duplicate_of"].isna()]
        grouped = scored.groupby("island")["score"]
        best = grouped.max() if self._maximize else grouped.min()
        return pd.DataFrame({"programs": grouped.size(), "best": best, "median": grouped.median()})

    def status_counts(self) -> dict[str, int]:
        counts = pc.value_counts(self._store.read_table("programs").column("status"))
        return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}

    # -- pictures (matplotlib; each returns its Figure) -----------------------------------

    def plot_progress(self):
        from evolve.plots import plot_progress

        return plot_progress(self)

    def plot_lineage(self, max_nodes: int = 5000):
        from evolve.plots import plot_lineage

        return plot_lineage(self, max_nodes=max_nodes)

    def plot_islands(self):
        from evolve.plots import plot_islands

        return plot_islands(self)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self.programs)} programs)"
