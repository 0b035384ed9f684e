"""``evolve.Run``: a read-only view of one run directory for notebooks.

Everything comes from the run store (Parquet) through ``RunStore.read_table``
and ``RunStore.get_program``, so a live run opens too (it shows what was
committed so far). Tables are built column-wise, the lineage graph in two bulk
calls, and program text is read only for the programs asked for (random access
by row group), so a run of 100k programs opens in about a second
(benchmarks/notebook.py).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evolve.analysis import plots
from evolve.analysis.embeddings import embeddings_table, project_2d
from evolve.analysis.lineage import build_lineage, first_parents
from evolve.analysis.probes import RunProbes, read_probes
from evolve.records import PROBE_KINDS, EventKind
from evolve.store import SCHEMAS, RunStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Run"]

T = TypeVar("T")


def _expand_metrics(frame: pd.DataFrame, metrics: list[str | None]) -> pd.DataFrame:
    """The JSON ``metrics`` column as one float column per name: ``metric.<name>``."""
    parsed = [json.loads(text) if text else {} for text in metrics]
    table = pd.DataFrame.from_records(parsed, index=frame.index)
    if table.empty:
        return frame
    table = table.apply(pd.to_numeric, errors="coerce")
    table.columns = [f"metric.{name}" for name in table.columns]
    expanded: pd.DataFrame = pd.concat([frame, table], axis=1)
    return expanded


class Run:
    """A read-only view of one run directory (finished, stopped or live).

    ``programs`` and ``llm_calls`` are read once and cached; open the run again
    to see what a live run committed since.
    """

    def __init__(self, store: RunStore) -> None:
        self._store = store
        self.path = store.root
        self._code_cache: dict[str, str] = {}

    @classmethod
    def open(cls, path: str | Path) -> Run:
        """Open ``path`` (a run directory, finished or live); never modifies it."""
        return cls(RunStore.open(Path(path)))

    # -- tables -------------------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """The run's settings (run.json): problem, seed, sandbox, models, ..."""
        return self._store.settings

    def _fresh(self, read: Callable[[RunStore], T], reopen: bool = True) -> T:
        """``read(store)`` on the run's latest checkpoint (``reopen``), and once
        more if what it names is gone: a live run merges its segments into one
        file and deletes them, so a store opened earlier can point at nothing
        (a missing file, or a program its index no longer finds)."""
        if reopen:
            self._store = RunStore.open(self.path)
        try:
            return read(self._store)
        except (FileNotFoundError, KeyError):
            self._store = RunStore.open(self.path)
            return read(self._store)

    @cached_property
    def _table(self) -> pa.Table:
        return self._fresh(lambda store: store.read_table("programs"))

    @cached_property
    def programs(self) -> pd.DataFrame:
        """One row per program, indexed by id, in recording order. Metrics are
        ``metric.<name>`` columns; ``parent_id`` is the primary parent (None for
        the seed), ``parent_ids`` all parents (inspirations after the first).
        ``holdout_score`` is the held-out scorer's objective (``evaluate_holdout``,
        run for each program that became the best; from its ``holdout`` event):
        NaN where none was run or it gave no score. ``probes`` counts what the
        program tried that its sandbox refused (see :attr:`probes`), and
        ``probe_kinds`` names the kinds (``"read,network"``); both are <NA>
        where its sandbox monitored nothing (unknown, not zero)."""
        table = self._table
        frame = table.drop_columns(["metrics"]).to_pandas()
        frame["parent_id"] = pd.Series(first_parents(table), dtype=object)
        frame = frame.set_index("id", drop=False)
        frame.index.name = None
        held_out = self._holdout_scores()
        frame["holdout_score"] = np.array(
            [held_out.get(pid, np.nan) for pid in frame["id"]], dtype=float
        )
        reports = self._probes.programs
        found = [reports.get(pid) for pid in frame["id"]]
        frame["probes"] = pd.array([None if p is None else p.total for p in found], dtype="Int64")
        frame["probe_kinds"] = pd.array(
            [None if p is None else ",".join(p.kinds) for p in found], dtype="string"
        )
        return _expand_metrics(frame, table.column("metrics").to_pylist())

    @cached_property
    def _probes(self) -> RunProbes:
        return self._fresh(read_probes)

    @cached_property
    def probes(self) -> pd.DataFrame:
        """One row per program its sandbox monitored (evaluators._monitor):
        program_id, iteration, total, a count column per kind (network: a
        network socket; write: outside its scratch; read: a file it may not
        read, such as the scorer's data; syscall: one the filter denies; limit:
        time, memory, processes or output), log (the distinct lines) and seen
        (the kinds its sandbox could see). Most attempts first."""
        rows = [
            {
                "program_id": p.program_id,
                "iteration": p.iteration,
                "total": p.total,
                **{kind: p.counts.get(kind, 0) for kind in PROBE_KINDS},
                "log": list(p.log),
                "seen": sorted(p.seen),
            }
            for p in self._probes.ranked()
        ]
        columns = ["program_id", "iteration", "total", *PROBE_KINDS, "log", "seen"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def probe_summary(self) -> dict[str, Any]:
        """The run-level count ``evolve show`` prints: programs monitored and
        that tried, attempts by kind, the first iteration one tried, and each
        such program's counts and first log line."""
        return self._probes.summary()

    def _holdout_scores(self) -> dict[str, float]:
        """program id -> its held-out score (NaN for a held-out scoring that failed)."""
        frame = self.holdouts
        return dict(zip(frame["program_id"], frame["score"].astype(float), strict=True))

    @cached_property
    def holdouts(self) -> pd.DataFrame:
        """One row per held-out scoring (``holdout`` events: each program that
        became the best, scored by ``evaluate_holdout``): iteration, program_id,
        status, score (NaN when none), reason, metrics (dict). Empty for a problem
        without a held-out scorer."""
        events = self._events_table
        held = events.filter(pc.equal(events.column("kind"), str(EventKind.HOLDOUT)))
        rows = []
        for iteration, text in zip(
            held.column("iteration").to_pylist(), held.column("payload").to_pylist(), strict=True
        ):  # only these payloads are parsed
            payload = json.loads(text)
            score = payload.get("score")
            rows.append(
                {
                    "iteration": iteration,
                    "program_id": payload["program_id"],
                    "status": payload["status"],
                    "score": np.nan if score is None else float(score),
                    "reason": payload.get("reason", ""),
                    "metrics": payload.get("metrics", {}),
                }
            )
        columns = ["iteration", "program_id", "status", "score", "reason", "metrics"]
        return pd.DataFrame(rows, columns=columns)

    @cached_property
    def llm_calls(self) -> pd.DataFrame:
        """One row per LLM call: model, tokens, cost_usd, latency_s, retries, error."""
        # the prompt and reply texts (schema 6) stay on disk: trace_records reads them
        columns = [c for c in SCHEMAS["llm_calls"].names if c not in ("messages", "completion")]
        calls: pd.DataFrame = self._fresh(
            lambda store: store.read_table("llm_calls", columns=columns)
        ).to_pandas()
        return calls

    @cached_property
    def _events_table(self) -> pa.Table:
        return self._fresh(lambda store: store.read_table("events"))

    @cached_property
    def events(self) -> pd.DataFrame:
        """Migrations, rejected edits, resets and stops, with parsed payloads."""
        frame: pd.DataFrame = self._events_table.to_pandas()
        frame["payload"] = [json.loads(p) if p else {} for p in frame["payload"]]
        return frame

    @property
    def maximize(self) -> bool:
        """The objective's direction, as the run's run.json records it."""
        return self._store.maximize

    # -- single programs ------------------------------------------------------------

    @cached_property
    def _parents(self) -> dict[str, str | None]:
        ids = self._table.column("id").to_pylist()
        return dict(zip(ids, first_parents(self._table), strict=True))

    def _check(self, program_id: str) -> None:
        if program_id not in self._parents:
            raise KeyError(
                f"{self.path}: has no program {program_id!r}; "
                "run.programs.index lists the ids (also `evolve show RUN_DIR`)"
            )

    def code(self, program_id: str) -> str:
        """The source of one program (read from the store on first use)."""
        text = self._code_cache.get(program_id)
        if text is None:
            self._check(program_id)
            program = self._fresh(lambda store: store.get_program(program_id), reopen=False)
            text = self._code_cache[program_id] = program.code
        return text

    def parent(self, program_id: str) -> str | None:
        """The primary parent of ``program_id`` (None for the seed)."""
        self._check(program_id)
        return self._parents[program_id]

    def best(self, k: int = 1) -> pd.DataFrame:
        """The ``k`` best programs by the objective (duplicates left out: they
        repeat the original's result)."""
        frame = self.programs
        unique = frame[frame["fitness"].notna() & frame["duplicate_of"].isna()]
        order = np.argsort(-unique["fitness"].to_numpy(dtype=float), kind="stable")
        return unique.iloc[order[:k]]

    def ancestry(self, program_id: str) -> list[str]:
        """Primary parents from ``program_id`` back to the seed (the program first)."""
        chain, seen = [program_id], {program_id}
        while (parent := self.parent(chain[-1])) is not None and parent not in seen:
            if parent not in self._parents:  # a live run read between two commits
                break
            chain.append(parent)
            seen.add(parent)
        return chain

    def path_to_best(self) -> list[str]:
        """Program ids from the seed to the best program ([] before any score)."""
        best = self.best(1)
        return [] if best.empty else list(reversed(self.ancestry(str(best.index[0]))))

    def diff(self, program_id: str, against: str | None = None, context: int = 3) -> str:
        """Unified diff of ``program_id`` against ``against`` (default: its primary
        parent); '' for the seed."""
        other = against if against is not None else self.parent(program_id)
        if other is None:
            return ""
        return "".join(
            difflib.unified_diff(
                self.code(other).splitlines(keepends=True),
                self.code(program_id).splitlines(keepends=True),
                fromfile=other,
                tofile=program_id,
                n=context,
            )
        )

    # -- the lineage graph ------------------------------------------------------------

    def lineage(self) -> nx.DiGraph[str]:
        """Every program as a node (also those the database evicted), an edge from
        each parent to its child. Node attributes: score, status, island,
        generation, iteration, model, edit_kind, metrics (dict); edge
        attributes: ``primary`` (False for inspirations), model, edit_kind."""
        return build_lineage(self._table)

    # -- summaries for plots and the report ----------------------------------------------

    def progress(self, window: int | None = None) -> pd.DataFrame:
        """Per evaluation (duplicates left out), in recording order: its score, the
        best so far, the median of the last ``window`` evaluations (default: 2% of
        the run, at least 10), and the LLM dollars spent so far."""
        frame = self.programs
        frame = frame[frame["duplicate_of"].isna()][["id", "score", "fitness", "created_at"]]
        frame = frame.reset_index(drop=True)
        window = window or max(10, len(frame) // 50)
        sign = 1.0 if self.maximize else -1.0
        frame["best"] = frame["fitness"].cummax().ffill() * sign
        frame["median"] = frame["score"].rolling(window, min_periods=1).median()
        frame.attrs["window"] = window
        frame["cost_usd"] = self._spend_at(frame["created_at"].to_numpy(dtype=float))
        frame.index.name = "evaluation"
        return frame.drop(columns=["fitness"])

    def _spend_at(self, times: np.ndarray) -> np.ndarray:
        """LLM dollars spent up to each of ``times`` (0 without LLM calls)."""
        calls = self.llm_calls
        if calls.empty:
            return np.zeros(len(times))
        calls = calls.sort_values("created_at", kind="stable")
        spent = np.concatenate(([0.0], calls["cost_usd"].fillna(0).to_numpy(float).cumsum()))
        index = np.searchsorted(calls["created_at"].to_numpy(float), times, side="right")
        return spent[index]

    def island_summary(self) -> pd.DataFrame:
        """Programs, best and median score per island (duplicates left out)."""
        unique = self.programs[self.programs["duplicate_of"].isna()]
        grouped = unique.groupby("island")["score"]
        best = grouped.max() if self.maximize else grouped.min()
        return pd.DataFrame({"programs": grouped.size(), "best": best, "median": grouped.median()})

    def cost_summary(self) -> pd.DataFrame:
        """LLM calls, tokens, dollars and median latency per model (empty offline)."""
        calls = self.llm_calls
        columns = ["calls", "prompt_tokens", "completion_tokens", "cost_usd", "latency_s"]
        if calls.empty:
            return pd.DataFrame(columns=columns)
        return calls.groupby("model").agg(
            calls=("id", "size"),
            prompt_tokens=("prompt_tokens", "sum"),
            completion_tokens=("completion_tokens", "sum"),
            cost_usd=("cost_usd", "sum"),
            latency_s=("latency_s", "median"),
        )

    @property
    def problem_changes(self) -> pd.DataFrame:
        """Accepted changes of the run's problem files (``evolve resume
        --accept-problem-change``): iteration, time, reason and the files, each
        with its kind (changed, added, removed). Programs on either side of one
        were scored by different files."""
        events = self.events
        rows = [
            {
                "iteration": int(e["iteration"]),
                "time": float(e["time"]),
                "reason": e["payload"]["reason"],
                "files": [f"{c['path']} ({c['kind']})" for c in e["payload"]["changes"]],
            }
            for e in events.to_dict("records")
            if e["kind"] == EventKind.PROBLEM_CHANGED
        ]
        return pd.DataFrame(rows, columns=["iteration", "time", "reason", "files"])

    @property
    def prompt_variants(self) -> pd.DataFrame:
        """The ``[meta]`` system-prompt archive as of the last checkpoint, one row
        per variant (``original`` is the problem's own prompt): the programs in the
        database from which it could be chosen (``since``) and until which
        (``retired``, NaN while live), its children, their total score gain, its
        ``proposals`` (llm_calls rows that used it) and its text. Empty without an
        archive."""
        checkpoint = self._fresh(lambda store: store.load_checkpoint(database=False)) or {}
        variants = ((checkpoint.get("proposer") or {}).get("meta") or {}).get("variants") or []
        columns = ["id", "since", "retired", "children", "gain", "proposals", "text"]
        if not variants:
            return pd.DataFrame(columns=columns)
        calls = self.llm_calls
        used: dict[str, int] = {}
        if "prompt_variant" in calls:
            used = {str(k): int(v) for k, v in calls["prompt_variant"].value_counts().items()}
        rows = [
            {
                "id": v["id"],
                "since": v["since"],
                "retired": np.nan if v["retired"] >= 2**62 else v["retired"],
                "children": v["children"],
                "gain": v["gain"],
                "proposals": int(used.get(v["id"], 0)),
                "text": v["text"],
            }
            for v in variants
        ]
        return pd.DataFrame(rows, columns=columns)

    @cached_property
    def _embeddings(self) -> tuple[pd.DataFrame, np.ndarray]:
        scores = self.programs.set_index("id")["score"] if len(self.programs) else pd.Series()
        return embeddings_table(self.path, scores)

    @property
    def embeddings(self) -> pd.DataFrame:
        """The novelty check's vectors, one row each (``[novelty]`` runs; empty
        otherwise): program_id, kind ("program" or "rejected"), island,
        similarity and nearest_id (as checked), score. ``attrs`` names the
        embedder and the dimensions; ``embedding_vectors`` holds the vectors."""
        return self._embeddings[0]

    @property
    def embedding_vectors(self) -> np.ndarray:
        """The unit vectors of ``embeddings``, row for row (n x dimensions)."""
        return self._embeddings[1]

    def embedding_projection(self) -> np.ndarray:
        """``embeddings`` mapped to 2-D (principal components), row for row."""
        return project_2d(self.embedding_vectors)

    def status_counts(self) -> dict[str, int]:
        """Programs per status (ok, invalid, timeout, oom, error)."""
        return {str(k): int(v) for k, v in self.programs["status"].value_counts().items()}

    # -- pictures (matplotlib; each returns its Figure) -----------------------------------

    def plot_progress(self) -> Figure:
        """Best and median score over evaluations (and over LLM dollars, if any)."""
        return plots.plot_progress(self)

    def plot_lineage(self, max_nodes: int = 5000) -> Figure:
        """The tree coloured by score, the path to the best in red; above
        ``max_nodes`` programs, the path plus an even sample."""
        return plots.plot_lineage(self, max_nodes=max_nodes)

    def plot_islands(self) -> Figure:
        """Score over iterations per island, and programs per island."""
        return plots.plot_islands(self)

    def plot_embeddings(self) -> Figure:
        """The embedding map: evaluated programs by score, rejected children grey."""
        return plots.plot_embeddings(self.embeddings, self.embedding_projection())

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {len(self._table)} programs)"
