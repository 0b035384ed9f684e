"""problem.toml and the problem folder are validated up front, with errors that
name the file, the key and the fix."""

from __future__ import annotations

import logging
import shutil
import textwrap
from pathlib import Path

import pytest

from evolve.config import load_problem
from evolve.config.openevolve import describe_ignored, translate_openevolve_config
from evolve.errors import ConfigError, ProblemError
from tests.problem_factory import SCORER, SEED, TOML, write_problem


def test_valid_problem_loads_with_typed_fields(tmp_path):
    problem = load_problem(write_problem(tmp_path / "p"))
    assert problem.name == "tiny"
    assert problem.spec.evaluation.timeout_s == 10.0
    assert isinstance(problem.spec.evaluation.timeout_s, float)
    assert problem.spec.objective.maximize
    assert [s.function for s in problem.stages] == ["evaluate"]
    assert set(problem.files) == {"scorer.py"}  # the seed and problem.toml are not shipped


def test_unknown_key_is_an_error_naming_file_and_key(tmp_path):
    root = write_problem(tmp_path / "p", toml=TOML + "\n[resources]\nmemry_mb = 10\n")
    with pytest.raises(ConfigError) as err:
        load_problem(root)
    message = str(err.value)
    assert "problem.toml" in message
    assert "resources.memry_mb" in message
    assert "did you mean 'resources.memory_mb'" in message


def test_unknown_top_level_table_is_an_error(tmp_path):
    root = write_problem(tmp_path / "p", toml=TOML + "\n[evalution]\ntimeout_s = 3\n")
    with pytest.raises(ConfigError, match="unknown key 'evalution'"):
        load_problem(root)


@pytest.mark.parametrize(
    ("snippet", "key"),
    [
        ('[evaluation]\ntimeout_s = "ten"\n', "evaluation.timeout_s"),
        ("[resources]\nmemory_mb = 1.5\n", "resources.memory_mb"),
        ("[resources]\ncpus = true\n", "resources.cpus"),
        ('[objective]\ndirection = "up"\n', "objective.direction"),
        ('[database]\nnum_islands = "4"\n', "database.num_islands"),
    ],
)
def test_wrong_type_is_an_error_naming_the_key(tmp_path, snippet, key):
    toml = 'name = "tiny"\n' + snippet
    root = write_problem(tmp_path / "p", toml=toml)
    with pytest.raises(ConfigError) as err:
        load_problem(root)
    assert key in str(err.value)
    assert "problem.toml" in str(err.value)


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ("[evaluation]\ntimeout_s = 0\n", "timeout_s must be > 0"),
        ("[database]\nnum_islands = 0\n", "num_islands"),
        ("[database]\nmigration_fraction = 1.5\n", "migration_fraction"),
    ],
)
def test_out_of_range_value_is_an_error(tmp_path, snippet, words):
    root = write_problem(tmp_path / "p", toml='name = "tiny"\n' + snippet)
    with pytest.raises(ConfigError) as err:
        load_problem(root)
    assert words in str(err.value)
    assert "problem.toml" in str(err.value)


def test_malformed_toml_names_the_file(tmp_path):
    root = write_problem(tmp_path / "p", toml="name = \n")
    with pytest.raises(ProblemError, match=r"problem\.toml: not valid TOML"):
        load_problem(root)


def test_missing_name_is_reported(tmp_path):
    root = write_problem(tmp_path / "p", toml="[evaluation]\ntimeout_s = 3\n")
    with pytest.raises(ConfigError, match="missing required key 'name'"):
        load_problem(root)


def test_seed_without_markers_is_rejected_with_the_fix(tmp_path):
    root = write_problem(tmp_path / "p", seed="def value():\n    return 1\n")
    with pytest.raises(ProblemError) as err:
        load_problem(root)
    assert "initial.py" in str(err.value)
    assert "EVOLVE-BLOCK-START" in str(err.value)


def test_unterminated_marker_is_rejected(tmp_path):
    seed = "# EVOLVE-BLOCK-START\nx = 1\n"
    with pytest.raises(ProblemError, match=r"initial\.py"):
        load_problem(write_problem(tmp_path / "p", seed=seed))


def test_missing_scorer_is_rejected(tmp_path):
    root = write_problem(tmp_path / "p")
    (root / "scorer.py").unlink()
    with pytest.raises(ProblemError, match=r"scorer\.py: missing"):
        load_problem(root)


def test_scorer_without_evaluate_is_rejected(tmp_path):
    root = write_problem(tmp_path / "p", scorer="def score(path):\n    return {}\n")
    with pytest.raises(ProblemError, match="defines no evaluate"):
        load_problem(root)


def test_scorer_syntax_error_is_rejected_with_line(tmp_path):
    root = write_problem(tmp_path / "p", scorer="def evaluate(p)\n    return {}\n")
    with pytest.raises(ProblemError, match=r"scorer.py:1: the scorer does not parse"):
        load_problem(root)


def test_cascade_stages_and_thresholds(tmp_path):
    scorer = textwrap.dedent(
        """\
        def evaluate_stage1(p):
            return {"score": 1.0}
        def evaluate_stage2(p):
            return {"score": 2.0}
        def evaluate(p):
            return {"score": 3.0}
        """
    )
    toml = 'name = "c"\n[evaluation]\nthresholds = [0.5]\n'
    problem = load_problem(write_problem(tmp_path / "p", toml=toml, scorer=scorer))
    assert [(s.function, s.threshold) for s in problem.stages] == [
        ("evaluate_stage1", 0.5),
        ("evaluate_stage2", None),
    ]
    too_many = 'name = "c"\n[evaluation]\nthresholds = [0.5, 0.7]\n'
    with pytest.raises(ProblemError, match="at most 1"):
        load_problem(write_problem(tmp_path / "q", toml=too_many, scorer=scorer))


def test_cascade_can_be_turned_off(tmp_path):
    scorer = "def evaluate_stage1(p):\n    return {}\ndef evaluate(p):\n    return {}\n"
    toml = 'name = "c"\n[evaluation]\ncascade = false\n'
    problem = load_problem(write_problem(tmp_path / "p", toml=toml, scorer=scorer))
    assert [s.function for s in problem.stages] == ["evaluate"]


def test_data_files_ship_with_the_job(tmp_path):
    root = write_problem(tmp_path / "p")
    (root / "data").mkdir()
    (root / "data" / "points.json").write_text("[1, 2]")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "x.pyc").write_bytes(b"junk")
    problem = load_problem(root)
    job = problem.make_job("p1", SEED)
    assert job.files["data/points.json"] == b"[1, 2]"
    assert job.files["scorer.py"] == SCORER.encode()
    assert not any("__pycache__" in name for name in job.files)
    assert job.limits.timeout_s == 10.0


def test_openevolve_folder_loads_unchanged(tmp_path):
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(SEED)
    (root / "evaluator.py").write_text(SCORER.replace('"score"', '"combined_score"'))
    (root / "config.yaml").write_text(
        textwrap.dedent(
            """\
            max_iterations: 100
            llm:
              api_base: http://localhost:1234/v1
            prompt:
              system_message: "You improve programs."
            database:
              num_islands: 3
              migration_rate: 0.2
              feature_dimensions: ["complexity", "accuracy"]
            evaluator:
              timeout: 7
              cascade_thresholds: [0.5, 0.8]
            """
        )
    )
    problem = load_problem(root)
    assert problem.layout == "openevolve"
    assert problem.scorer == "evaluator.py"
    assert problem.spec.prompt.system == "You improve programs."
    assert problem.spec.database.num_islands == 3
    assert problem.spec.database.migration_fraction == 0.2
    assert problem.spec.evaluation.timeout_s == 7.0
    assert [d.name for d in problem.spec.database.feature_dimensions] == [
        "code_length",
        "accuracy",
    ]
    assert problem.spec.objective.metric == "combined_score"
    assert "initial_program.py" not in problem.files


def test_openevolve_config_with_wrong_type_names_yaml_file(tmp_path):
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(SEED)
    (root / "evaluator.py").write_text(SCORER)
    (root / "config.yaml").write_text("evaluator:\n  timeout: soon\n")
    with pytest.raises(ConfigError) as err:
        load_problem(root)
    assert "config.yaml" in str(err.value)
    assert "evaluation.timeout_s" in str(err.value)


def test_not_a_problem_folder(tmp_path):
    with pytest.raises(ProblemError, match=r"no problem\.toml found"):
        load_problem(tmp_path)


def test_files_table_hides_nothing_by_accident_and_keeps_references_out(tmp_path: Path) -> None:
    root = write_problem(tmp_path / "p", toml=TOML + '\n[files]\nnot_shipped = ["reference/*"]\n')
    (root / "reference").mkdir()
    (root / "reference" / "best.json").write_text("{}")
    (root / "helper.py").write_text("X = 1\n")
    problem = load_problem(root)
    assert "reference/best.json" not in problem.files and "helper.py" in problem.files
    assert problem.visible == () and problem.make_job("p1", SEED).visible == ()
    visible = TOML + '\n[files]\ncandidate_visible = ["helper.py"]\n'
    root2 = write_problem(tmp_path / "q", toml=visible)
    (root2 / "helper.py").write_text("X = 1\n")
    assert load_problem(root2).make_job("p1", SEED).visible == ("helper.py",)


@pytest.mark.parametrize("key", ["candidate_visible", "not_shipped"])
def test_a_files_pattern_that_matches_nothing_is_an_error(tmp_path: Path, key: str) -> None:
    root = write_problem(tmp_path / "p", toml=TOML + f'\n[files]\n{key} = ["refrence/*"]\n')
    with pytest.raises(ProblemError, match=r"\[files\] .*'refrence/\*' matches no file"):
        load_problem(root)


def test_openevolve_defaults_apply_and_its_config_ships(tmp_path: Path) -> None:
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(SEED)
    (root / "evaluator.py").write_text(SCORER)
    (root / "config.yaml").write_text("prompt:\n  system_message: hi\n")
    problem = load_problem(root)
    assert problem.spec.evaluation.timeout_s == 300  # OpenEvolve's defaults, not ours
    assert problem.spec.evaluation.thresholds == [0.5, 0.75, 0.9]
    assert problem.spec.database.num_islands == 5
    assert problem.spec.database.migration_interval == 50
    assert "config.yaml" in problem.files  # evaluators read their own section of it
    assert problem.spec.resources.memory_mb == 4096  # OpenEvolve has no limit; JAX needs ~4 GB
    # what every OpenEvolve install has: its seeds import tqdm without naming it
    assert problem.spec.sandbox.requirements == ("numpy", "PyYAML", "tqdm")


def test_an_openevolve_requirements_txt_comes_first_and_is_not_repeated(tmp_path: Path) -> None:
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(SEED)
    (root / "evaluator.py").write_text(SCORER)
    (root / "requirements.txt").write_text("numpy>=1.22.0\nscipy\nopenevolve\n")
    problem = load_problem(root)
    assert problem.spec.sandbox.requirements == ("numpy>=1.22.0", "scipy", "PyYAML", "tqdm")


def test_an_openevolve_folder_with_a_seed_in_another_language_says_so(tmp_path: Path) -> None:
    root = tmp_path / "rust"
    root.mkdir()
    (root / "initial_program.rs").write_text("fn main() {}\n")
    (root / "evaluator.py").write_text(SCORER)
    with pytest.raises(ProblemError, match=r"seed is initial_program\.rs: evolve evolves Python"):
        load_problem(root)


def test_openevolve_folders_evolve_cannot_read_say_why(tmp_path: Path) -> None:
    several = tmp_path / "tsp"
    (several / "initial_program").mkdir(parents=True)  # OpenEvolve's tsp_tour_minimization
    (several / "evaluator.py").write_text(SCORER)
    with pytest.raises(ProblemError, match=r"the folder initial_program/ \(a program of several"):
        load_problem(several)
    named = tmp_path / "sld"
    named.mkdir()  # its sldbench: the command line names init_program.py
    (named / "init_program.py").write_text(SEED)
    (named / "evaluator.py").write_text(SCORER)
    with pytest.raises(ProblemError, match=r"copy init_program\.py to initial_program\.py"):
        load_problem(named)


def test_an_openevolve_seed_without_markers_evolves_as_a_whole(tmp_path: Path) -> None:
    root = tmp_path / "oe"
    root.mkdir()
    seed = "def value():\n    return 3.0\n"
    (root / "initial_program.py").write_text(seed)
    (root / "evaluator.py").write_text(SCORER)
    problem = load_problem(root)
    assert problem.initial_code == f"# EVOLVE-BLOCK-START\n{seed}# EVOLVE-BLOCK-END\n"
    assert (root / "initial_program.py").read_text() == seed  # the file is left as it is
    native = write_problem(tmp_path / "native", seed=seed)
    with pytest.raises(ProblemError, match="no EVOLVE-BLOCK"):
        load_problem(native)  # evolve's own layout still asks for the markers


def test_ignored_openevolve_keys_are_told_apart_with_why(tmp_path: Path) -> None:
    config = {
        "max_iterations": 100,
        "random_seed": 7,
        "diff_based_evolution": False,  # OpenEvolve would rewrite whole programs
        "language": "python",  # changes nothing
        "llm": {"api_base": "http://x"},
        "database": {
            "archive_size": 30,  # mapped
            "feature_bins": 10,
            "feature_dimensions": ["complexity", "diversity"],
            "population_size": 50,
        },
        "novelty": {"enabled": True},
    }
    data, ignored = translate_openevolve_config(config, "p")
    assert data["database"]["archive_size"] == 30
    assert data["database"]["feature_dimensions"] == [{"name": "code_length"}]
    meaning, settings = describe_ignored(ignored)
    text = "\n".join(meaning)
    assert "diff_based_evolution (evolve's LLM edits mix diffs and rewrites" in text
    assert "database.feature_bins (evolve's cells have fixed bins" in text
    assert "feature dimension 'diversity' (no cell meaning here: dropped)" in text
    assert "novelty.enabled (evolve rejects exact duplicates only)" in text
    assert "language" not in text
    assert "max_iterations (--iterations)" in settings and "random_seed (--seed)" in settings
    assert "llm.api_base (--model / the [llm] table)" in settings


def test_the_ignored_keys_are_reported_once_per_config(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "oe"
    root.mkdir()
    (root / "initial_program.py").write_text(SEED)
    (root / "evaluator.py").write_text(SCORER)
    (root / "config.yaml").write_text(f"max_code_length: {len(str(tmp_path))}\n")  # unique
    copy = tmp_path / "copy"  # as a run loads the folder, then its own copy
    with caplog.at_level(logging.INFO, logger="evolve.config.openevolve"):
        load_problem(root)
        shutil.copytree(root, copy)
        load_problem(copy)
    warnings = [r for r in caplog.records if "max_code_length" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING


def test_a_shinkaevolve_seed_without_markers_evolves_as_a_whole(tmp_path: Path) -> None:
    root = tmp_path / "shinka"
    root.mkdir()  # its novelty_generator: no markers, evolved by full rewrites
    (root / "initial.py").write_text("def run_experiment():\n    return 1\n")
    (root / "evaluate.py").write_text("print('scored')\n")
    problem = load_problem(root)
    assert problem.layout == "shinka"
    assert problem.initial_code.startswith("# EVOLVE-BLOCK-START\ndef run_experiment")
