"""Peers in their own venvs, and the problem folders both frameworks run.

OpenEvolve is installed from PyPI into ``.bench/openevolve-venv`` on first use
(never imported here: it runs as its own command). Problems are written in
OpenEvolve's layout (``initial_program.py`` + ``evaluator.py`` + ``config.yaml``),
which evolve runs unchanged, so both frameworks score exactly the same code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".bench"
OPENEVOLVE_VENV = BENCH / "openevolve-venv"
OPENEVOLVE_SPEC = os.environ.get("EVOLVE_BENCH_OPENEVOLVE", "openevolve==0.4.0")


def openevolve_bin() -> Path:
    """The ``openevolve-run`` command, installing OpenEvolve first if needed."""
    command = OPENEVOLVE_VENV / "bin" / "openevolve-run"
    if not command.exists():
        BENCH.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(OPENEVOLVE_VENV)], check=True)
        pip = OPENEVOLVE_VENV / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", OPENEVOLVE_SPEC, "numpy"], check=True)
    return command


def openevolve_version() -> str:
    out = subprocess.run(
        [
            str(OPENEVOLVE_VENV / "bin" / "python"),
            "-c",
            "import openevolve; print(openevolve.__version__)",
        ],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "?"


TRIVIAL_PROGRAM = textwrap.dedent(
    """\
    # EVOLVE-BLOCK-START
    def value():
        a = 1.0
        b = 2.0
        return a * 3.0 + b
    # EVOLVE-BLOCK-END
    """
)

TRIVIAL_EVALUATOR = textwrap.dedent(
    """\
    import re


    def evaluate(program_path):
        # Trivial: read the numbers in the program, no import, no child process.
        with open(program_path) as f:
            numbers = [float(x) for x in re.findall(r"\\d+\\.\\d+", f.read())]
        return {"combined_score": 1.0 / (1.0 + abs(sum(numbers) - 10.0))}
    """
)

# Runs one of evolve's problem folders under OpenEvolve: same scorer, same data.
ADAPTER = textwrap.dedent(
    """\
    import importlib.util
    import math
    import os
    import sys

    HERE = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, {root!r})
    _spec = importlib.util.spec_from_file_location("_scorer", os.path.join(HERE, "scorer.py"))
    _scorer = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_scorer)


    def evaluate(program_path):
        try:
            metrics = _scorer.evaluate(program_path)
        except Exception as exc:  # invalid candidate: the worst score
            return {{"combined_score": {worst!r}, "error": 1.0}}
        metrics = metrics.get("metrics", metrics)  # evolve's {{"metrics", "artifacts"}} form
        value = float(metrics[{metric!r}])
        return {{**{{k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}},
                "combined_score": {sign} * value}}
    """
)


def config_yaml(
    api_base: str, seed: int, iterations: int, workers: int, population: int | None = 100_000
) -> str:
    """An OpenEvolve config pointing at the offline mutator server.

    ``population``: OpenEvolve's ``database.population_size`` with 4 islands (as
    evolve's problems use), or None for OpenEvolve's own database defaults (1,000
    programs kept, 5 islands), which is how a user runs it out of the box.
    """
    database = (
        f"  population_size: {population}\n  archive_size: 100\n  num_islands: 4\n"
        if population
        else ""
    )
    return textwrap.dedent(
        f"""\
        max_iterations: {iterations}
        checkpoint_interval: 1000000
        log_level: WARNING
        random_seed: {seed}
        diff_based_evolution: true
        llm:
          api_base: "{api_base}"
          api_key: "x"
          models:
            - name: "evolve-offline"
              weight: 1.0
          temperature: 0.7
          max_tokens: 4096
          timeout: 30
          retries: 1
        database:
        DATABASE  random_seed: {seed}
        evaluator:
          timeout: 60
          cascade_evaluation: false
          parallel_evaluations: {workers}
        """
    ).replace("DATABASE", database)


def trivial_problem(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "initial_program.py").write_text(TRIVIAL_PROGRAM)
    (folder / "evaluator.py").write_text(TRIVIAL_EVALUATOR)
    return folder


def adapted_problem(source: Path, folder: Path, metric: str, maximize: bool) -> Path:
    """An OpenEvolve copy of evolve problem ``source`` (scorer, data, seed)."""
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(folder / "initial.py", folder / "initial_program.py")
    worst = -1e18
    sign = 1 if maximize else -1
    (folder / "evaluator.py").write_text(
        ADAPTER.format(root=str(ROOT), metric=metric, worst=worst, sign=sign)
    )
    return folder
