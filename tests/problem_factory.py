"""Write small problem folders for tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

SEED = textwrap.dedent(
    """\
    import math

    # EVOLVE-BLOCK-START
    def value():
        x = 2.0
        return x * 1.5
    # EVOLVE-BLOCK-END
    """
)

SCORER = textwrap.dedent(
    """\
    import importlib.util

    def evaluate(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return {"score": -abs(module.value() - 10.0)}
    """
)

TOML = textwrap.dedent(
    """\
    name = "tiny"

    [objective]
    metric = "score"
    direction = "maximize"

    [evaluation]
    timeout_s = 10
    """
)


def write_problem(
    root: Path, toml: str | None = TOML, seed: str = SEED, scorer: str = SCORER
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if toml is not None:
        (root / "problem.toml").write_text(toml)
    (root / "initial.py").write_text(seed)
    (root / "scorer.py").write_text(scorer)
    return root
