"""The engine: the one place where database, mutation, executors and store meet.

Owns the controller (``controller``: one run to a stop condition), what it
carries between proposals (``state``: limits, counters, candidates on their
way), how a result becomes a scored record (``scoring``), and the wiring of a
run from its settings, new or resumed (``runner``).

May import every package below it (config, database, edits, mutation, store,
executors, sandboxes); nothing but the CLI and notebooks imports it.
"""

from evolve.engine.controller import Controller
from evolve.engine.runner import RunOptions, RunOutcome, resume_run, sandbox_config, start_run
from evolve.engine.scoring import Scored, score_result
from evolve.engine.state import Progress, RunLimits

__all__ = [
    "Controller",
    "Progress",
    "RunLimits",
    "RunOptions",
    "RunOutcome",
    "Scored",
    "resume_run",
    "sandbox_config",
    "score_result",
    "start_run",
]
