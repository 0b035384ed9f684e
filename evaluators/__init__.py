"""Code that runs next to the candidate, inside the sandbox.

Standard library only: this package is copied into every sandbox (process or
container), so it must not import anything from ``evolve`` or ``sandboxes`` or
any third-party package.

For scorers::

    from evaluators import call_candidate, candidate_session, CandidateError, InvalidCandidate
    from evaluators import run_program  # a command (a compiler, a built program) as the candidate
    from evaluators import as_float, require_finite_array
"""

from evaluators.checks import InvalidCandidate, as_float, require_finite, require_finite_array
from evaluators.isolation import (
    CandidateCrashed,
    CandidateError,
    CandidateOutOfMemory,
    CandidateResultError,
    CandidateSession,
    CandidateTimeout,
    call_candidate,
    candidate_session,
)
from evaluators.programs import ProgramResult, run_program

__all__ = [
    "CandidateCrashed",
    "CandidateError",
    "CandidateOutOfMemory",
    "CandidateResultError",
    "CandidateSession",
    "CandidateTimeout",
    "InvalidCandidate",
    "ProgramResult",
    "as_float",
    "call_candidate",
    "candidate_session",
    "require_finite",
    "require_finite_array",
    "run_program",
]
