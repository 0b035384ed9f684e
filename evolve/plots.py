"""Matplotlib pictures of a run (used by :class:`evolve.notebook.Run`).

Layouts are computed, never simulated: the lineage tree puts each program at
(x = generation, y = its rank within the generation), so 100k programs draw in
seconds; above ``max_nodes`` it shows the path to the best program plus an
even sample of the rest, and says so in the title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from evolve.notebook import Run

__all__ = ["plot_islands", "plot_lineage", "plot_progress"]


def _figure(ncols: int = 1, width: float = 7.0):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4.2), squeeze=False)
    return fig, axes[0]


def plot_progress(run: Run):
    """Best and median score over evaluations, and over LLM dollars when there are any."""
    frame = run.progress()
    with_cost = bool(frame["cost_usd"].max() > 0)
    fig, axes = _figure(2 if with_cost else 1)
    axes[0].plot(frame.index, frame["best"], label="best so far")
    axes[0].plot(frame.index, frame["median"], label="median so far", alpha=0.7)
    axes[0].scatter(frame.index, frame["score"], s=4, alpha=0.25, label="each evaluation")
    axes[0].set_xlabel("evaluations")
    axes[0].set_ylabel("score")
    axes[0].legend(loc="best")
    if with_cost:
        axes[1].plot(frame["cost_usd"], frame["best"], label="best so far")
        axes[1].plot(frame["cost_usd"], frame["median"], label="median so far", alpha=0.7)
        axes[1].set_xlabel("LLM spend (USD)")
        axes[1].legend(loc="best")
    fig.suptitle(f"{run.settings.get('problem', '')}: progress")
    fig.tight_layout()
    return fig


def lineage_layout(
    run: Run, max_nodes: int
) -> tuple[list[str], dict[str, tuple[float, float]], bool]:
    """(node ids shown, id -> (x, y), whether it was sampled)."""
    programs = run.programs
    ids = list(programs.index)
    sampled = len(ids) > max_nodes
    if sampled:
        keep = set(run.path_to_best())
        rest = [i for i in ids if i not in keep]
        room = max(0, max_nodes - len(keep))
        picks = np.linspace(0, len(rest) - 1, num=min(room, len(rest))).round().astype(int)
        keep.update(rest[k] for k in picks)
        ids = [i for i in ids if i in keep]
    gen = programs.loc[ids, "generation"].fillna(0).to_numpy()
    positions: dict[str, tuple[float, float]] = {}
    counters: dict[int, int] = {}
    for node, g in zip(ids, gen, strict=True):
        row = counters.get(int(g), 0)
        counters[int(g)] = row + 1
        positions[node] = (float(g), float(row))
    # Centre each generation's column.
    for node, (x, y) in positions.items():
        positions[node] = (x, y - (counters[int(x)] - 1) / 2.0)
    return ids, positions, sampled


def plot_lineage(run: Run, max_nodes: int = 5000):
    """The lineage tree coloured by score, the path to the best program in red."""
    from matplotlib.collections import LineCollection

    ids, pos, sampled = lineage_layout(run, max_nodes)
    shown = set(ids)
    parents = {i: run.parent(i) for i in ids}
    segments = [(pos[parents[i]], pos[i]) for i in ids if parents[i] in shown]
    path = run.path_to_best()
    fig, axes = _figure(width=9.0)
    ax = axes[0]
    ax.add_collection(LineCollection(segments, colors="0.75", linewidths=0.5, zorder=1))
    xy = np.array([pos[i] for i in ids]) if ids else np.zeros((0, 2))
    scores = run.programs.loc[ids, "score"].to_numpy(dtype=float)
    points = ax.scatter(xy[:, 0], xy[:, 1], c=scores, s=10, cmap="viridis", zorder=2)
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


def plot_islands(run: Run):
    """Score over evaluations per island, and how many programs each island holds."""
    programs = run.programs[run.programs["duplicate_of"].isna()]
    fig, axes = _figure(2)
    for island, group in programs.groupby("island"):
        axes[0].scatter(
            group["iteration"], group["score"], s=5, alpha=0.5, label=f"island {island}"
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
