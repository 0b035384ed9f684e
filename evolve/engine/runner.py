"""Assemble a run from its settings (new or resumed) and drive it to a stop.

This is the wiring the CLI and notebooks share: load the problem, open the
store, build or restore the database, pick the sandbox and the proposer, and
run the controller with a clean Ctrl-C or SIGTERM (first: cancel the LLM calls
in flight, finish the evaluations in flight and save; second: abandon the
evaluations too, and save).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from evolve.config import Problem
from evolve.config.overrides import load_as_run
from evolve.database import PopulationDatabase
from evolve.engine.controller import Controller
from evolve.engine.human import evaluate_human
from evolve.engine.state import Progress, RunLimits
from evolve.errors import ClusterUnavailable, SandboxUnavailable, StoreError, UsageError
from evolve.executors import Executor, LocalExecutor
from evolve.executors.ray import RayExecutor, connect
from evolve.mutation import Proposer
from evolve.mutation.setup import MutationSettings, build_proposer, preflight
from evolve.records import EventKind, Program
from evolve.store import DatabaseCommit, RunStore
from evolve.store.pins import review as review_problem
from sandboxes.factory import SandboxConfig, SandboxKind, make_sandbox
from sandboxes.job import SandboxSetupError

__all__ = ["RunOptions", "RunOutcome", "resume_run", "sandbox_config", "start_run"]

ExecutorKind = Literal["local", "ray"]

log = logging.getLogger("evolve.run")

# K on this machine when a run names no --concurrency (a cluster's is its capacity).
DEFAULT_LOCAL_CONCURRENCY = 2


@dataclass(frozen=True)
class RunOptions:
    """Settings of a run; saved in run.json so a resume uses the same ones."""

    seed: int = 0
    sandbox: SandboxKind | None = None  # None: the problem's [sandbox] kind
    executor: ExecutorKind = "local"  # "ray": evaluations as Ray tasks (see executors/ray.py)
    ray_address: str | None = None  # None: start a local Ray instance; "auto" or HOST:PORT
    concurrency: int | None = 2  # K; None: the executor's (local: 2; Ray: the cluster's)
    deterministic: bool = False  # ordered schedule: same seed, same lineage
    mutation: MutationSettings = field(default_factory=MutationSettings)
    # limits set on the command line over the problem's (evolve.config.overrides)
    overrides: dict[str, float] = field(default_factory=dict)
    config: str | None = None  # an OpenEvolve folder's config file (default config.yaml)
    # tables over the problem's ([database], [prompt], [llm], [novelty]): an `evolve bench` arm
    overlay: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    progress: Progress
    seed_program: Program | None
    best: Program | None
    proposed: Program | None = None  # a hand-written child (evolve propose)


def start_run(
    problem_path: Path,
    out: Path,
    options: RunOptions,
    limits: RunLimits,
    on_progress: Callable[[Progress], None] | None = None,
    population: list[Program] | None = None,
    provenance: dict[str, Any] | None = None,
) -> RunOutcome:
    """Create ``out``, score the seed, and evolve until ``limits``.

    ``population`` (a branch from another run's checkpoint, ``evolve.engine.branch``):
    programs already scored, recorded and placed in the database in this order
    instead of scoring the seed. ``provenance`` goes to run.json as given
    (``branched_from``, and the ``problem_source`` to name).
    """
    problem = load_with(problem_path, options)
    if options.sandbox is None:
        options = dataclasses.replace(options, sandbox=problem.spec.sandbox.kind)
    limits = _with_k(limits, options.executor)
    options = _llm_calls_for(options, limits)
    objective = problem.spec.objective
    settings = {
        "problem": problem.name,
        "problem_source": str(problem.root),
        "objective": {"metric": objective.metric, "direction": objective.direction},
        **asdict(options),
        **(provenance or {}),
    }
    # Build the proposer before creating the run directory: a missing API key
    # or a bad [llm] table must not leave an empty run behind.
    proposer = build_proposer(options.mutation, problem, Path(out))
    preflight(options.mutation, proposer)  # its calls go to llm_calls at the first commit
    # Likewise a sandbox or cluster that cannot start (no Docker daemon, no Ray).
    executor = _executor_for(problem, options, limits, Path(out))
    try:
        store = RunStore.create(out, settings, problem.root)
    except BaseException:
        executor.shutdown()
        raise
    problem = load_with(store.problem_dir, options)
    # The database keeps metadata only; programs come back from the store.
    database = PopulationDatabase(
        problem.spec.database, seed=options.seed, program_lookup=store.get_program
    )
    progress = None if population is None else _place(population, store, database)
    return _drive(
        problem, store, database, proposer, options, limits, progress, on_progress, executor
    )


def _place(population: list[Program], store: RunStore, database: PopulationDatabase) -> Progress:
    """Record ``population`` (scored programs, in record order) and add the
    evaluated ones to the database, as their own run once did; the counters
    the new run continues from."""
    progress = Progress()
    for program in population:
        store.append_program(program)
        if program.duplicate_of is None:
            if program.island >= database.num_islands:
                # Born on an island its run spawned ([database] stagnation_action =
                # "spawn"), which this database has not (yet): a live island holds it.
                program = replace(program, island=program.island % database.num_islands)
            for event in database.add(program):
                store.append_event(event.KIND, program.iteration, asdict(event))
            progress.evaluations += 1
            progress.statuses[str(program.status)] += 1
        else:
            progress.duplicates += 1
    progress.next_iteration = max(p.iteration for p in population) + 1
    best = database.best()
    progress.best_score = None if best is None else best.score
    store.commit(
        {"controller": progress.to_state(), "proposer": {}, "unsettled": []},
        database=DatabaseCommit(
            journal=database.take_journal(),
            position=database.position(),
            programs=len(database),
            snapshot=database.snapshot,
        ),
    )
    return progress


def resume_run(
    run_dir: Path,
    limits: RunLimits,
    on_progress: Callable[[Progress], None] | None = None,
    executor: ExecutorKind | None = None,
    ray_address: str | None = None,
    accept_problem_change: str | None = None,
    human: tuple[str, str, Path] | None = None,
) -> RunOutcome:
    """Continue ``run_dir`` with the same islands, counters and seeds.

    ``executor``/``ray_address`` override the run's own (a preempted cluster
    run resumes on whatever cluster is up now); by default the run's are used.
    The problem copy must hold the files the run pinned (``evolve.store.pins``);
    ``accept_problem_change`` (a reason) goes on with changed ones and records it.
    ``human`` (parent id, code, its file): a hand-written child scored and
    recorded first (``evolve propose``, ``evolve.engine.human``).
    """
    store = RunStore.open(run_dir, repair=True)
    checkpoint = store.load_checkpoint()
    if checkpoint is None:
        raise StoreError(
            f"{run_dir}: has no checkpoint (the run died before its seed was scored); "
            "start it again with `evolve run`"
        )
    pin_event = review_problem(
        store.problem_dir, store.settings, store.load_events(), store.root, accept_problem_change
    )
    options = options_from_settings(store.settings, limits, executor, ray_address)
    limits = _with_k(limits, options.executor)
    options = _llm_calls_for(options, limits)
    problem = load_with(store.problem_dir, options)
    database = PopulationDatabase.restore(
        problem.spec.database, checkpoint["database"], program_lookup=store.get_program
    )
    progress = Progress.from_state(checkpoint["controller"])
    if pin_event is not None:
        kind, payload = pin_event
        _log_pin_event(store.root, kind, payload)
        store.append_event(kind, progress.next_iteration, payload)
    proposer = build_proposer(options.mutation, problem, store.root)
    preflight(options.mutation, proposer)  # its calls go to llm_calls at the first commit
    proposer.restore(checkpoint.get("proposer", {}))
    return _drive(
        problem,
        store,
        database,
        proposer,
        options,
        limits,
        progress,
        on_progress,
        _executor_for(problem, options, limits, store.root),
        unsettled=checkpoint.get("unsettled", []),
        human=human,
    )


def options_from_settings(
    settings: dict[str, Any],
    limits: RunLimits,
    executor: ExecutorKind | None = None,
    ray_address: str | None = None,
) -> RunOptions:
    """A run's options as its run.json saved them (for a resume or a branch),
    with K from ``limits`` and the executor overridden where given."""
    return RunOptions(
        seed=settings["seed"],
        sandbox=settings["sandbox"],
        concurrency=limits.concurrency,
        deterministic=settings["deterministic"],
        mutation=MutationSettings(**settings["mutation"]),
        executor=executor or settings.get("executor", "local"),
        ray_address=ray_address or settings.get("ray_address"),
        overrides=dict(settings.get("overrides") or {}),  # none before they existed
        config=settings.get("config"),
        overlay=dict(settings.get("overlay") or {}),
    )


def load_with(path: Path, options: RunOptions) -> Problem:
    """The problem at ``path`` as the run's options read it: its OpenEvolve
    config file, the limits set on the command line, its overlay."""
    settings = {"config": options.config, "overrides": options.overrides}
    return load_as_run(path, {**settings, "overlay": options.overlay})


def _log_pin_event(run_dir: Path, kind: EventKind, payload: dict[str, Any]) -> None:
    if kind == EventKind.PROBLEM_PINNED:
        log.info(
            "%s: made before problem files were pinned; pinning its %d files now",
            run_dir,
            len(payload["pins"]),
        )
        return
    log.warning(
        "%s: going on with %d changed problem files (%s), as accepted: %s",
        run_dir,
        len(payload["changes"]),
        ", ".join(change["path"] for change in payload["changes"]),
        payload["reason"],
    )


def _llm_calls_for(options: RunOptions, limits: RunLimits) -> RunOptions:
    """Let the LLM client carry the M proposals a run asks for.

    ``[llm] max_concurrency`` bounds the calls in flight; ``--proposals M``
    above it would leave the extra proposals waiting on that bound, so the run
    would silently get fewer calls in flight than it asked for. The command
    line wins (for this run, and saved with it): the bound is raised to M.
    """
    llm = options.mutation.llm
    wanted = limits.proposals
    if llm is None or wanted is None or wanted <= int(llm.get("max_concurrency", 1)):
        return options
    log.info(
        "--proposals %d is above [llm] max_concurrency %s: this run allows %d LLM calls in flight",
        wanted,
        llm.get("max_concurrency"),
        wanted,
    )
    mutation = dataclasses.replace(options.mutation, llm={**llm, "max_concurrency": wanted})
    return dataclasses.replace(options, mutation=mutation)


def _with_k(limits: RunLimits, executor: str) -> RunLimits:
    """A local run without --concurrency gets the local default; a Ray run keeps
    None, so K follows the cluster."""
    if limits.concurrency is None and executor != "ray":
        return dataclasses.replace(limits, concurrency=DEFAULT_LOCAL_CONCURRENCY)
    return limits


RAY_REACH_TIMEOUT_S = 5.0


def _check_reachable(address: str | None) -> None:
    """A HOST:PORT cluster address must answer before ``ray.init`` is asked to
    join it: given one that does not, Ray retries for minutes and then fails
    with a traceback. "auto" and none (a local instance) are left to Ray."""
    if not address or address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=RAY_REACH_TIMEOUT_S):
            return
    except ValueError:
        raise UsageError(
            f"--ray-address {address!r} is not HOST:PORT (or 'auto'); give the head node's "
            "address, e.g. 10.0.0.5:6379"
        ) from None
    except OSError as exc:
        raise ClusterUnavailable(
            f"cannot reach the Ray cluster at {address} ({exc}); start it with `ray start "
            "--head` on that host, check --ray-address (or RAY_ADDRESS), or drop "
            "--executor ray to run on this machine"
        ) from None


def _executor_for(
    problem: Problem, options: RunOptions, limits: RunLimits, run_dir: Path
) -> Executor:
    """The executor of a run, started now so a broken setup fails before any work."""
    config = sandbox_config(problem, options.sandbox)
    if options.executor == "ray":
        _check_reachable(options.ray_address or os.environ.get("RAY_ADDRESS"))
        owns = connect(options.ray_address, num_cpus=os.cpu_count())
        return RayExecutor(
            config,
            limits.concurrency,
            owns_ray=owns,
            run_label=Path(run_dir).name,
            resources=problem.spec.resources,
        )
    if options.executor != "local":
        raise UsageError(f"unknown executor '{options.executor}'; available: local, ray")
    workers = limits.concurrency or DEFAULT_LOCAL_CONCURRENCY
    try:
        sandbox = make_sandbox(config, concurrency=workers, run_label=Path(run_dir).name)
    except SandboxSetupError as exc:
        raise SandboxUnavailable(str(exc)) from exc
    return LocalExecutor(sandbox, max_workers=workers)


def sandbox_config(problem: Problem, kind: SandboxKind | None) -> SandboxConfig:
    """The problem's ``[sandbox]`` config, with ``kind`` (a ``--sandbox`` flag) instead
    of its own when given."""
    spec = problem.spec.sandbox
    return spec if kind is None else dataclasses.replace(spec, kind=kind)


def _drive(
    problem: Problem,
    store: RunStore,
    database: PopulationDatabase,
    proposer: Proposer,
    options: RunOptions,
    limits: RunLimits,
    progress: Progress | None,
    on_progress: Callable[[Progress], None] | None,
    executor: Executor,
    unsettled: list[dict[str, Any]] | None = None,
    human: tuple[str, str, Path] | None = None,
) -> RunOutcome:
    limits = dataclasses.replace(limits, ordered=options.deterministic)
    llm = options.mutation.llm or {}
    controller = Controller(
        problem,
        store,
        database,
        proposer,
        executor,
        options.seed,
        progress,
        on_progress,
        default_proposals=llm.get("max_concurrency"),
    )
    controller.restore_unsettled(unsettled or [])
    try:
        seed_program, proposed = _run_coroutine(
            _main(controller, limits, fresh=progress is None, human=human)
        )
    finally:
        executor.shutdown()
    return RunOutcome(store.root, controller.progress, seed_program, database.best(), proposed)


def _run_coroutine(coroutine: Any) -> Any:
    """``asyncio.run``, also from code that already runs an event loop (a Jupyter
    cell): then the run gets its own loop on a helper thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="evolve-run") as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _main(
    controller: Controller, limits: RunLimits, fresh: bool, human: tuple[str, str, Path] | None
) -> tuple[Program | None, Program | None]:
    """The seed's record (new runs) and the hand-written child's (``human``)."""
    try:
        proposed = None if human is None else await evaluate_human(controller, *human)
        return await _evolve(controller, limits, fresh), proposed
    finally:
        await controller.proposer.aclose()


async def _evolve(controller: Controller, limits: RunLimits, fresh: bool) -> Program | None:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    interrupts = 0

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            controller.request_stop("interrupted")
        elif task is not None:
            task.cancel()

    installed = _install_handlers(loop, on_interrupt)
    try:
        seed_program = await controller.evaluate_seed() if fresh else None
        await controller.run(limits)
        return seed_program
    except asyncio.CancelledError:
        controller.progress.stop_reason = "interrupted"
        controller.commit()
        return None
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _install_handlers(
    loop: asyncio.AbstractEventLoop, handler: Callable[[], Any]
) -> list[signal.Signals]:
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (e.g. a notebook worker): no clean-stop handler
    return installed
