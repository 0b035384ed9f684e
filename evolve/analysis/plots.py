"""Matplotlib pictures of a run (used by :class:`evolve.analysis.run.Run`).

Layouts are computed, never simulated: the lineage tree puts each program at
(x = generation, y = its rank within the generation, see
:func:`evolve.analysis.lineage.layout`), so big runs draw in seconds; above
``max_nodes`` it shows the path to the best program plus an even sample of the
rest, and says so in the title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from evolve.analysis.lineage import layout, sample_ids

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RunView",
    "lineage_layout",
    "plot_embeddings",
    "plot_islands",
    "plot_lineage",
    "plot_progress",
]


class RunView(Protocol):
    """What the pictures read of a run (:class:`evolve.analysis.run.Run` has it)."""

    @property
    def settings(self) -> dict[str, Any]: ...

    @property
    def programs(self) -> pd.DataFrame: ...

    @property
    def maximize(self) -> bool: ...

    def progress(self, window: int | None = None) -> pd.DataFrame: ...

    def path_to_best(self) -> list[str]: ...

    def parent(self, program_id: str) -> str | None: ...

    def island_summary(self) -> pd.DataFrame: ...


def _figure(ncols: int = 1, width: float = 7.0) -> tuple[Figure, Any]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.2), squeeze=False)
    return fig, axes[0]


def plot_progress(run: RunView) -> Figure:
    """Best and median score over evaluations, and over LLM dollars when there are any."""
    frame = run.progress()
    median = f"median of the last {frame.attrs['window']}"
    with_cost = bool(frame["cost_usd"].max() > 0)
    fig, axes = _figure(2 if with_cost else 1)
    axes[0].plot(frame.index, frame["best"], label="best so far")
    axes[0].plot(frame.index, frame["median"], label=median, alpha=0.7)
    axes[0].scatter(frame.index, frame["score"], s=4, alpha=0.25, label="each evaluation")
    axes[0].set_xlabel("evaluations")
    axes[0].set_ylabel("score")
    axes[0].legend(loc="best")
    if with_cost:
        axes[1].plot(frame["cost_usd"], frame["best"], label="best so far")
        axes[1].plot(frame["cost_usd"], frame["median"], label=median, alpha=0.7)
        axes[1].set_xlabel("LLM spend (USD)")
        axes[1].legend(loc="best")
    fig.suptitle(f"{run.settings.get('problem', '')}: progress")
    fig.tight_layout()
    return fig


def lineage_layout(
    run: RunView, max_nodes: int
) -> tuple[list[str], dict[str, tuple[float, float]], bool]:
    """(ids shown, id -> (x, y), whether sampled): above ``max_nodes`` programs,
    the path to the best plus an even sample of the rest (shared with the report)."""
    programs = run.programs
    ids, sampled = sample_ids(list(programs.index), run.path_to_best(), max_nodes)
    shown = set(ids)
    parents = [p if p in shown else None for p in (run.parent(i) for i in ids)]
    generations = programs.loc[ids, "generation"].fillna(0).astype(int).tolist()
    return ids, layout(ids, parents, generations), sampled


def plot_lineage(run: RunView, max_nodes: int = 5000) -> Figure:
    """The lineage tree coloured by score, the path to the best program in red."""
    from matplotlib.collections import LineCollection

    ids, pos, sampled = lineage_layout(run, max_nodes)
    shown = set(ids)
    parents = {i: run.parent(i) for i in ids}
    segments = [
        (pos[parent], pos[i]) for i in ids if (parent := parents[i]) is not None and parent in shown
    ]
    path = run.path_to_best()
    fig, axes = _figure(width=9.0)
    ax = axes[0]
    ax.add_collection(LineCollection(segments, colors="0.75", linewidths=0.5, zorder=1))
    xy = np.array([pos[i] for i in ids]) if ids else np.zeros((0, 2))
    scores = run.programs.loc[ids, "score"].to_numpy(dtype=float)
    cmap = "viridis" if run.maximize else "viridis_r"  # bright is better either way
    points = ax.scatter(xy[:, 0], xy[:, 1], c=scores, s=10, cmap=cmap, zorder=2)
    fig.colorbar(points, ax=ax, label="score")
    if len(path) > 1:
        ax.plot(
            [pos[p][0] for p in path if p in pos],
            [pos[p][1] for p in path if p in pos],
            color="red",
            linewidth=1.8,
            zorder=3,
            label="path to the best",
        )
        ax.legend(loc="best")
    ax.set_xlabel("generation")
    ax.set_yticks([])
    note = f" (sample of {len(ids)} of {len(run.programs)})" if sampled else ""
    ax.set_title(f"lineage: {len(run.programs)} programs{note}")
    ax.autoscale()
    fig.tight_layout()
    return fig


def plot_islands(run: RunView) -> Figure:
    """Each island's scores and best so far over iterations, and its program count."""
    programs = run.programs[run.programs["duplicate_of"].isna()]
    fig, axes = _figure(2)
    sign = 1.0 if run.maximize else -1.0
    for island, group in programs.groupby("island"):
        points = axes[0].scatter(group["iteration"], group["score"], s=5, alpha=0.35)
        best = group["fitness"].cummax().ffill() * sign
        axes[0].step(
            group["iteration"],
            best,
            where="post",
            color=points.get_facecolor()[0][:3],
            label=f"island {island}: best so far",
        )
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("score")
    axes[0].legend(loc="best", fontsize="small")
    summary = run.island_summary()
    axes[1].bar(summary.index.astype(str), summary["programs"])
    axes[1].set_xlabel("island")
    axes[1].set_ylabel("programs evaluated")
    fig.tight_layout()
    return fig


def plot_embeddings(frame: pd.DataFrame, points: np.ndarray) -> Figure:
    """The novelty check's map: evaluated programs coloured by score, rejected
    children as grey crosses (``frame``: ``Run.embeddings``; ``points``: its
    2-D projection)."""
    fig, axes = _figure(1, width=6.5)
    ax = axes[0]
    rejected = (frame["kind"] == "rejected").to_numpy()
    if rejected.any():
        ax.scatter(
            points[rejected, 0],
            points[rejected, 1],
            marker="x",
            s=12,
            c="0.6",
            alpha=0.6,
            label=f"rejected before scoring ({int(rejected.sum())})",
        )
    kept = ~rejected
    if kept.any():
        shown = ax.scatter(
            points[kept, 0],
            points[kept, 1],
            s=14,
            c=frame["score"].to_numpy()[kept],
            cmap="viridis",
            label=f"evaluated ({int(kept.sum())})",
        )
        fig.colorbar(shown, ax=ax, label="score")
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    embedder = frame.attrs.get("embedder") or "no"
    ax.set_title(f"program embeddings ({embedder} embedder)")
    if len(frame):
        ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig
