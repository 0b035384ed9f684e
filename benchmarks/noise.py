"""How often a noisy scorer's lucky draw is kept as the best, with and without
re-scoring (``[evaluation] repeats`` / ``confirm_best``).

The problem is the tests' tiny one (``value()`` should be 10; true score
``-|value() - 10|``) with Gaussian noise of ``--sigma`` added to every score;
the scorer also reports the true score as a metric, which no decision reads.
Each arm runs the offline mutator for ``--evaluations`` children per seed.
At the end, the run's best (by the score it was given) is compared with the
truly best program the run evaluated:

* false best: the kept best's recorded score overstates its true score by
  more than ``--sigma`` (a lucky draw kept as the elite: ShinkaEvolve #119);
* better one lost: a program with a higher true score was evaluated but is not
  the kept best;
* regret: how much lower its true score is;
* overestimate: its recorded score minus its true score (the luck it kept);
* scorer runs per child: what the re-scoring cost.

    .venv/bin/python benchmarks/noise.py [--seeds 5] [--evaluations 150] [--sigma 0.5]

Prints a markdown table (medians over seeds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evolve import Run
from evolve.engine import RunLimits
from evolve.engine.runner import RunOptions, start_run

SEED = textwrap.dedent(
    """\
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
    import random

    SIGMA = {sigma}

    def evaluate(program_path):
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        true = -abs(float(module.value()) - 10.0)
        return {{"score": true + random.gauss(0.0, SIGMA), "true_score": true}}
    """
)

TOML = textwrap.dedent(
    """\
    name = "noisy"

    [objective]
    metric = "score"

    [evaluation]
    timeout_s = 10
    {evaluation}
    """
)

ARMS = {
    "scored once": "",
    "confirm_best = 3": "confirm_best = 3",
    "repeats = 3": "repeats = 3",
}


def one_run(folder: Path, arm: str, seed: int, evaluations: int, sigma: float) -> dict[str, float]:
    name = f"{len(list(folder.iterdir()))}"
    problem = folder / f"problem-{name}"
    problem.mkdir()
    (problem / "problem.toml").write_text(TOML.format(evaluation=ARMS[arm]))
    (problem / "initial.py").write_text(SEED)
    (problem / "scorer.py").write_text(SCORER.format(sigma=sigma))
    run_dir = folder / f"run-{name}"  # outside the problem, which a run copies
    options = RunOptions(sandbox="process", seed=seed, concurrency=2)
    limits = RunLimits(evaluations=evaluations, concurrency=2)
    outcome = start_run(problem, run_dir, options, limits)
    assert outcome.best is not None
    programs = Run.open(run_dir).programs
    scored = programs[(programs["status"] == "ok") & programs["duplicate_of"].isna()]
    truth = scored.set_index("id")["metric.true_score"]
    kept = float(truth[outcome.best.id])
    return {
        "false": float(float(outcome.best.score) - kept > sigma),  # type: ignore[arg-type]
        "lost": float(kept < truth.max() - 1e-9),
        "regret": float(truth.max() - kept),
        "overestimate": float(outcome.best.score) - kept,  # type: ignore[arg-type]
        "runs_per_child": (outcome.progress.evaluations + outcome.progress.extra_scorer_runs)
        / max(outcome.progress.evaluations, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--evaluations", type=int, default=150)
    parser.add_argument("--sigma", type=float, default=0.5)
    args = parser.parse_args()
    print(
        f"{args.evaluations} evaluations x {args.seeds} seeds per arm, noise sigma {args.sigma}\n"
    )
    print("| arm | runs with a false best | runs with a better one lost | median regret |", end="")
    print(" median overestimate | scorer runs per child |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for arm in ARMS:
            rows = [
                one_run(Path(tmp), arm, seed, args.evaluations, args.sigma)
                for seed in range(args.seeds)
            ]
            false = sum(r["false"] for r in rows)
            lost = sum(r["lost"] for r in rows)
            print(
                f"| {arm} | {false:.0f}/{len(rows)} | {lost:.0f}/{len(rows)} | "
                f"{statistics.median(r['regret'] for r in rows):.3f} | "
                f"{statistics.median(r['overestimate'] for r in rows):.3f} | "
                f"{statistics.median(r['runs_per_child'] for r in rows):.2f} |"
            )


if __name__ == "__main__":
    main()
