"""A run's stored embeddings as a table, and a 2-D map of them.

The novelty check (``[novelty]``) keeps the vector of every program it placed
and every child it rejected in ``RUN/embeddings`` (``evolve.store.embeddings``).
Here they become one row each, joined with the program's score, and a principal
component projection (numpy's SVD: no extra dependency, and the same picture on
every machine, unlike t-SNE or UMAP) that ``plot_embeddings`` draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from evolve.store.embeddings import EmbeddingLog

__all__ = ["EMBEDDING_COLUMNS", "embeddings_table", "project_2d"]

EMBEDDING_COLUMNS = ["program_id", "kind", "island", "similarity", "nearest_id", "score"]


def embeddings_table(run_dir: Path, scores: pd.Series) -> tuple[pd.DataFrame, np.ndarray]:
    """(one row per stored vector, the vectors): the row says whose vector it is
    ("program": an evaluated program, "rejected": a child turned away), its
    island, its similarity to the nearest program when it was checked, that
    program, and (programs only) the score. Empty when the run kept none."""
    stored = EmbeddingLog(run_dir).read()
    if stored is None:
        frame = pd.DataFrame(columns=EMBEDDING_COLUMNS)
        frame.attrs.update(embedder=None, dimensions=0)
        return frame, np.zeros((0, 0), dtype=np.float32)
    frame = pd.DataFrame(
        [
            {
                "program_id": row.program_id,
                "kind": row.kind,
                "island": row.island,
                "similarity": np.nan if row.similarity is None else row.similarity,
                "nearest_id": row.nearest_id,
                "score": scores.get(row.program_id, np.nan) if row.kind == "program" else np.nan,
            }
            for row in stored.rows
        ],
        columns=EMBEDDING_COLUMNS,
    )
    frame.attrs.update(embedder=stored.embedder, dimensions=stored.dimensions)
    return frame, stored.vectors


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of ``vectors`` (n x 2; zeros where
    there are fewer than two distinct directions). Signs are fixed so the
    largest loading of each axis is positive: the map does not flip between
    runs of the same data."""
    points = np.zeros((len(vectors), 2), dtype=np.float64)
    if len(vectors) < 2:
        return points
    centred = np.asarray(vectors, dtype=np.float64)
    centred = centred - centred.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    keep = min(2, int(np.sum(singular > 1e-12)))
    for k in range(keep):
        axis = axes[k] if axes[k][np.argmax(np.abs(axes[k]))] > 0 else -axes[k]
        points[:, k] = centred @ axis
    return points
