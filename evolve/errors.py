"""Errors a user can fix, under one root: the message names the file (or key,
or argument) and the fix, and the CLI prints it as one line.

Anything else that escapes a command is a bug in evolve: the CLI prints its
traceback and asks for a report, so an internal failure never passes for a
mistake in the user's input. The whole tree (the LLM errors live with the
mutation protocol they belong to)::

    EvolveError                 root: the user can fix it
    ├── ConfigError             a problem.toml, [llm] table or config.yaml is malformed (ValueError)
    │   ├── ProblemError        a problem folder is malformed
    │   └── LLMFatalError       evolve.mutation.llm.errors: wrong key, endpoint or model
    │       └── ReplayMissing   a replayed run asked for a request the record lacks
    ├── StoreError              a run directory is missing, foreign or damaged (RuntimeError)
    ├── SeedFailed              the seed could not be scored: the scorer is broken
    ├── SandboxUnavailable      the sandbox backend cannot start (no Docker daemon, no image)
    └── UsageError              an argument is out of range or names what is not there (ValueError)

Not errors to the user, so not here: ``EditError`` (``evolve.edits``: an edit
was rejected, recorded and the run goes on), ``MutationError``
(``evolve.mutation``: a proposal failed) and ``BudgetExhausted`` (the spend
limit stops the run cleanly).

Imports nothing from evolve: every package may raise these.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "EvolveError",
    "ProblemError",
    "SandboxUnavailable",
    "SeedFailed",
    "StoreError",
    "UsageError",
]


class EvolveError(Exception):
    """Something the user can fix; the message says what and how."""


class ConfigError(EvolveError, ValueError):
    """A configuration file is malformed; the message names the file, key and fix."""


class ProblemError(ConfigError):
    """A problem folder is malformed."""


class StoreError(EvolveError, RuntimeError):
    """The run directory is missing, foreign or damaged."""


class SeedFailed(EvolveError):
    """The seed program could not be scored; the scorer is probably broken."""


class SandboxUnavailable(EvolveError):
    """The sandbox backend cannot start here (no Docker daemon, a missing image)."""


class ClusterUnavailable(EvolveError):
    """The Ray cluster a run names cannot be reached."""


class UsageError(EvolveError, ValueError):
    """An argument (of a command or of the Python API) is out of range or names
    something that does not exist."""
