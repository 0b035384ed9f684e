"""Load a problem folder into a typed, validated ``Problem``.

Three layouts are accepted:

* native: ``problem.toml`` + ``initial.py`` + ``scorer.py`` (+ data files);
* OpenEvolve: ``initial_program.py`` + ``evaluator.py`` (+ optional
  ``config.yaml``), so OpenEvolve users' problems run unchanged;
* ShinkaEvolve: ``initial.py`` + ``evaluate.py``, the scorer run as a script
  (+ optional run configs ``*.yaml`` and ``run_evo.py``, read, never shipped).

Everything is checked up front (markers, scorer entry points, types of every
config key) so a malformed problem fails before any compute is spent, with an
error that names the file and the fix.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import logging
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from evolve.config.openevolve import load_openevolve_spec
from evolve.config.problem_toml import EvaluationSpec, FilesSpec, ProblemToml
from evolve.config.shinka import RUN_SCRIPT, load_shinka_spec, run_configs
from evolve.config.strict import from_mapping
from evolve.edits import MarkerError, evolve_regions
from evolve.errors import ProblemError, UsageError
from sandboxes.job import HOLDOUT_FUNCTION, Entry, EvalJob, Limits, Stage
from sandboxes.packages import merge_requirements, parse_requirements

__all__ = ["Problem", "load_problem"]

log = logging.getLogger(__name__)

MAX_PROBLEM_FILES_BYTES = 64 * 1024 * 1024
_NOT_SHIPPED = {"problem.toml", "README.md", "config.yaml"}
_SKIPPED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}
REQUIREMENTS_FILE = "requirements.txt"  # the scorer's packages (sandboxes.packages)


@dataclass(frozen=True)
class Problem:
    """A loaded problem: its spec, seed program and the files a sandbox needs."""

    root: Path
    spec: ProblemToml
    initial_code: str
    initial_path: Path
    scorer: str  # file name of the scorer, relative to root
    stages: tuple[Stage, ...]
    files: dict[str, bytes]
    layout: Literal["native", "openevolve", "shinka"] = "native"
    config_file: str | None = None  # an OpenEvolve or ShinkaEvolve config, relative to root
    visible: tuple[str, ...] = ()  # files the candidate may read ([files] candidate_visible)
    # The scorer defines evaluate_holdout(program_path): a held-out scorer, run
    # only for new bests and by `evolve verify`, whose results no prompt sees.
    holdout: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    def limits(self) -> Limits:
        return Limits(timeout_s=self.spec.evaluation.timeout_s, resources=self.spec.resources)

    def make_job(self, program_id: str, code: str, entry: Entry = "evaluate") -> EvalJob:
        """The job that scores ``code``: only code, files and limits travel.
        ``entry="holdout"``: the held-out scorer instead (same limits, no cascade)."""
        if entry == "holdout" and not self.holdout:
            raise ValueError(
                f"{self.root / self.scorer}: defines no {HOLDOUT_FUNCTION}(program_path); "
                "there is no held-out scorer to run"
            )
        return EvalJob(
            program_id=program_id,
            code=code,
            files=self.files,
            scorer=self.scorer,
            stages=self.stages,
            objective=self.spec.objective.metric,
            maximize=self.spec.objective.maximize,
            limits=self.limits(),
            visible=self.visible,
            entry=entry,
            objective_fallback=self.spec.objective.fallback,
            feature_metrics=tuple(d.name for d in self.spec.database.feature_dimensions),
        )


def load_problem(path: str | Path, config: str | None = None) -> Problem:
    """Load and validate the problem folder at ``path`` (any layout).

    ``config``: an OpenEvolve folder's config file other than config.yaml (its
    READMEs' ``--config config_phase_1.yaml``), or a ShinkaEvolve folder's run
    config (``--config shinka_small.yaml``), a file in the folder, so that a
    run's copy of the folder holds it."""
    root = Path(path)
    if not root.is_dir():
        raise ProblemError(f"{root}: not a directory; pass a problem folder (see problems/)")
    if (root / "problem.toml").is_file():
        if config is not None:
            raise UsageError(
                f"--config {config}: {root} has a problem.toml; --config names the config "
                "file of an OpenEvolve folder (initial_program.py + evaluator.py)"
            )
        return _load_native(root)
    if (root / "evaluator.py").is_file() and (root / "initial_program.py").is_file():
        name = _config_name(root, config)
        spec = load_openevolve_spec(root, name)
        return _assemble(root, spec, "initial_program.py", "evaluator.py", "openevolve", name)
    if (root / "evaluator.py").is_file():
        _refuse_openevolve_seed(root)
    if (root / SHINKA_SCORER).is_file() and (root / "initial.py").is_file():
        return _load_shinka(root, config)
    seeds = sorted(p.name for p in root.glob("initial.*") if p.suffix != ".py")
    if (root / SHINKA_SCORER).is_file() and seeds:
        raise ProblemError(
            f"{root}: a ShinkaEvolve folder whose seed is {seeds[0]}: evolve evolves Python "
            "programs only so far (other languages are planned); nothing is wrong with the "
            "folder itself"
        )
    raise ProblemError(
        f"{root}: no problem.toml found. A problem folder holds problem.toml, initial.py "
        "and scorer.py (or OpenEvolve's initial_program.py + evaluator.py, or "
        "ShinkaEvolve's initial.py + evaluate.py)."
    )


SHINKA_SCORER = "evaluate.py"  # run as a script: ``python evaluate.py --program_path ...``
_SHINKA_STAGES = (Stage("__main__"),)  # evaluators._shinka.SCRIPT_STAGE


def _load_shinka(root: Path, config: str | None) -> Problem:
    """A ShinkaEvolve folder: its evaluate.py is run as a script on each
    candidate (one stage, ``__main__``); its run configs, run_evo.py (which
    imports ShinkaEvolve's runner), notebooks and README stay out of the sandbox."""
    config_name = _shinka_config_name(root, config)
    spec = _with_requirements_file(root, load_shinka_spec(root, config_name), native=False)
    initial_path = root / "initial.py"
    initial_code = _marked_seed(initial_path, whole_file=True)  # its "full" rewrites
    ipynb = {str(p.relative_to(root)) for p in root.rglob("*.ipynb")}
    launch = {RUN_SCRIPT, *run_configs(root), *([config_name] if config_name else [])}
    files = _collect_files(root, exclude={"initial.py", *launch, *ipynb}, keep=set())
    files = _apply_file_rules(root, files, spec.files)
    return Problem(
        root=root.resolve(),
        spec=spec,
        initial_code=initial_code,
        initial_path=initial_path,
        scorer=SHINKA_SCORER,
        stages=_SHINKA_STAGES,
        files=files,
        layout="shinka",
        config_file=config_name,
    )


def _shinka_config_name(root: Path, config: str | None) -> str | None:
    """The run config whose ``db_config`` applies: ``--config`` as given, else
    the folder's only *.yaml with a ShinkaEvolve section; none when there are
    several (ShinkaEvolve's run_evo.py is told which: so is evolve, by --config)."""
    if config is not None:
        return _config_name(root, config)
    found = run_configs(root)
    if len(found) > 1:
        log.info(
            "%s: several ShinkaEvolve run configs (%s): none applies; pass --config NAME "
            "for its db_config",
            root,
            ", ".join(found),
        )
    return found[0] if len(found) == 1 else None


def _marked_seed(initial_path: Path, whole_file: bool = False) -> str:
    """The seed's code, checked to parse and to mark what evolves; with
    ``whole_file`` (OpenEvolve's rule) a seed without markers evolves whole."""
    if not initial_path.is_file():
        raise ProblemError(f"{initial_path}: missing; write the seed program there")
    initial_code = initial_path.read_text(encoding="utf-8")
    try:
        ast.parse(initial_code, filename=str(initial_path))
    except SyntaxError as exc:
        raise ProblemError(
            f"{initial_path}:{exc.lineno}: the seed does not parse: {exc.msg}"
        ) from None
    try:
        if not evolve_regions(initial_code, source=str(initial_path)) and whole_file:
            return _whole_file_block(initial_code, initial_path)
        if not evolve_regions(initial_code, source=str(initial_path)):
            raise MarkerError(f"{initial_path}: no EVOLVE-BLOCK")
    except MarkerError as exc:
        raise ProblemError(
            f"{exc}. Mark the code evolution may change with lines "
            "'# EVOLVE-BLOCK-START' and '# EVOLVE-BLOCK-END'."
        ) from exc
    return initial_code


def _refuse_openevolve_seed(root: Path) -> NoReturn:
    """An evaluator.py without an initial_program.py evolve can read: say why."""
    folders = [p.name for p in root.glob("initial_program*") if p.is_dir()]
    if folders:
        raise ProblemError(
            f"{root}: an OpenEvolve folder whose seed is the folder {folders[0]}/ (a program "
            "of several files): evolve evolves one file so far; nothing is wrong with the "
            "folder itself"
        )
    seeds = sorted(p.name for p in root.glob("initial_program.*") if p.suffix != ".py")
    if seeds:
        raise ProblemError(
            f"{root}: an OpenEvolve folder whose seed is {seeds[0]}: evolve evolves Python "
            "programs only so far (other languages are planned); nothing is wrong with the "
            "folder itself"
        )
    others = sorted(p.name for p in root.glob("*.py") if "program" in p.stem)
    guess = f" ({others[0]} here?)" if others else ""
    raise ProblemError(
        f"{root}: an OpenEvolve folder without initial_program.py; OpenEvolve's command "
        f"line names the seed{guess}, evolve reads initial_program.py, a Python program: "
        f"copy {others[0] if others else 'the seed'} to initial_program.py"
    )


def _config_name(root: Path, config: str | None) -> str:
    """The config file's name relative to ``root``: ``config`` as given from
    here, or else within the folder; it must be one of the folder's files."""
    if config is None:
        return "config.yaml"
    found = [p for p in (Path(config), root / config) if p.is_file()]
    if not found:
        raise UsageError(f"--config {config}: no such file (here or in {root})")
    try:
        return str(found[0].resolve().relative_to(root.resolve()))
    except ValueError:
        raise UsageError(
            f"--config {config}: not a file of {root}; copy it into the folder (a run keeps "
            "a copy of the folder, and its resume and verify read the config from there)"
        ) from None


def _load_native(root: Path) -> Problem:
    toml_path = root / "problem.toml"
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"{toml_path}: not valid TOML: {exc}") from exc
    spec = from_mapping(ProblemToml, data, toml_path)
    return _assemble(root, spec, "initial.py", "scorer.py", "native")


def _assemble(
    root: Path,
    spec: ProblemToml,
    initial_name: str,
    scorer_name: str,
    layout: Any,
    config_name: str = "config.yaml",
) -> Problem:
    initial_path = root / initial_name
    initial_code = _marked_seed(initial_path, whole_file=layout == "openevolve")
    scorer_path = root / scorer_name
    if not scorer_path.is_file():
        raise ProblemError(
            f"{scorer_path}: missing; write a scorer defining evaluate(program_path) -> dict"
        )
    names = _scorer_functions(scorer_path)
    stages = _stages(scorer_path, names, spec.evaluation, strict=layout == "native")
    spec = _with_requirements_file(root, spec, native=layout == "native")
    # OpenEvolve's evaluators may read their own section of config.yaml: it ships
    files = _collect_files(
        root, exclude={initial_name}, keep={"config.yaml"} if layout == "openevolve" else set()
    )
    files = _apply_file_rules(root, files, spec.files)
    return Problem(
        root=root.resolve(),
        spec=spec,
        initial_code=initial_code,
        initial_path=initial_path,
        scorer=scorer_name,
        stages=stages,
        files=files,
        layout=layout,
        config_file=config_name if layout == "openevolve" else None,
        visible=tuple(n for n in files if _matches(n, spec.files.candidate_visible)),
        holdout=HOLDOUT_FUNCTION in names,
    )


def _with_requirements_file(root: Path, spec: ProblemToml, native: bool = True) -> ProblemToml:
    """``spec`` with the scorer packages of the folder's requirements.txt (the
    file OpenEvolve's examples ship) as its ``[sandbox] requirements``. A peer's
    folder (``native`` false) has no problem.toml: its spec's requirements are
    what the peer's own install always provides, kept unless the file names them."""
    path = root / REQUIREMENTS_FILE
    if not path.is_file():
        return spec
    try:
        lines = parse_requirements(path.read_text(encoding="utf-8").splitlines(), str(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProblemError(str(exc)) from None
    if native and spec.sandbox.requirements and lines:
        raise ProblemError(
            f"{root}: the scorer's packages are named twice, in problem.toml's [sandbox] "
            f"requirements and in {REQUIREMENTS_FILE}; keep one of them"
        )
    if not lines:
        return spec
    merged = merge_requirements(lines, spec.sandbox.requirements)
    sandbox = dataclasses.replace(spec.sandbox, requirements=merged)
    return dataclasses.replace(spec, sandbox=sandbox)


def _whole_file_block(code: str, path: Path) -> str:
    """An OpenEvolve seed without EVOLVE-BLOCK markers: OpenEvolve evolves the
    whole file, so the seed program is the file inside one block (two comment
    lines more; the file itself is left as it is)."""
    log.info("%s: no EVOLVE-BLOCK markers: the whole file evolves, as under its framework", path)
    body = code if code.endswith("\n") or not code else code + "\n"
    return f"# EVOLVE-BLOCK-START\n{body}# EVOLVE-BLOCK-END\n"


def _scorer_functions(scorer_path: Path) -> set[str]:
    """Names of the scorer's top-level functions, read from its AST: the scorer
    is only ever imported inside the sandbox, never on the host."""
    try:
        tree = ast.parse(scorer_path.read_text(encoding="utf-8"), filename=str(scorer_path))
    except SyntaxError as exc:
        raise ProblemError(
            f"{scorer_path}:{exc.lineno}: the scorer does not parse: {exc.msg}"
        ) from None
    return {
        node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _stages(
    scorer_path: Path, names: set[str], evaluation: EvaluationSpec, strict: bool
) -> tuple[Stage, ...]:
    """Decide the cascade from the scorer's top-level functions (read, not run).

    Threshold i applies after stage i. OpenEvolve configs often list one
    threshold per stage (the last is never used), so only native problems are
    held to "at most stages - 1 thresholds".
    """
    stage_names: list[str] = []
    while f"evaluate_stage{len(stage_names) + 1}" in names:
        stage_names.append(f"evaluate_stage{len(stage_names) + 1}")
    if evaluation.cascade and stage_names:
        if strict and len(evaluation.thresholds) > len(stage_names) - 1:
            raise ProblemError(
                f"{scorer_path}: evaluation.thresholds has {len(evaluation.thresholds)} "
                f"values but the scorer defines {len(stage_names)} stages; give at most "
                f"{len(stage_names) - 1} (one per stage that can stop the cascade)"
            )
        thresholds: list[float | None] = [*evaluation.thresholds[: len(stage_names) - 1]]
        thresholds += [None] * (len(stage_names) - len(thresholds))
        return tuple(Stage(n, thresholds[i]) for i, n in enumerate(stage_names))
    if "evaluate" not in names:
        raise ProblemError(
            f"{scorer_path}: defines no evaluate(program_path) function (nor "
            "evaluate_stage1); add `def evaluate(program_path): return {'score': ...}`"
        )
    return (Stage("evaluate"),)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _apply_file_rules(root: Path, files: dict[str, bytes], rules: FilesSpec) -> dict[str, bytes]:
    """``files`` without the ``not_shipped`` ones; a pattern that matches nothing
    is an error (a typo would otherwise leak the file it meant, or hide nothing)."""
    for key, patterns in (
        ("not_shipped", rules.not_shipped),
        ("candidate_visible", rules.candidate_visible),
    ):
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(name, pattern) for name in files):
                raise ProblemError(
                    f"{root / 'problem.toml'}: [files] {key} pattern {pattern!r} matches no "
                    f"file of the problem (it has: {', '.join(sorted(files)) or 'none'}); "
                    "fix or remove it"
                )
    return {n: data for n, data in files.items() if not _matches(n, rules.not_shipped)}


def _collect_files(root: Path, exclude: set[str], keep: set[str]) -> dict[str, bytes]:
    """Every file the scorer may need, as bytes keyed by relative path
    (``keep``: names to ship though they are usually not)."""
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIPPED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        not_shipped = str(rel) in _NOT_SHIPPED and str(rel) not in keep
        if not path.is_file() or str(rel) in exclude or not_shipped:
            continue
        data = path.read_bytes()
        total += len(data)
        if total > MAX_PROBLEM_FILES_BYTES:
            raise ProblemError(
                f"{root}: problem files exceed {MAX_PROBLEM_FILES_BYTES // 2**20} MiB "
                f"(at {rel}); ship smaller data or compress it"
            )
        files[str(rel)] = data
    return files
