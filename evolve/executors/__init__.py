"""Executors move evaluation jobs to sandboxes and results back; they never see
the database."""

from evolve.executors.local import LocalExecutor

__all__ = ["LocalExecutor"]
