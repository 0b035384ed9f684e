"""The ``[judge]`` table: parsed from problem.toml into typed dataclasses, and
every bad value refused up front with an error that names the file, the key
and the fix."""

from __future__ import annotations

import math

import pytest

from evolve.config import JudgeConfig, JudgeCriterion, load_problem
from evolve.errors import ConfigError
from tests.problem_factory import TOML, write_problem

JUDGE = """
[judge]
model = "judge"
base_metric = "score"
instructions = "Prefer closed forms."
max_code_chars = 5000

[[judge.criteria]]
name = "simplicity"
description = "short, readable code"
weight = 0.5

[[judge.criteria]]
name = "generality"
weight = 1
"""


def load(tmp_path, table: str):
    return load_problem(write_problem(tmp_path / "p", toml=TOML + table))


def test_a_judge_table_parses_into_its_dataclasses(tmp_path):
    judge = load(tmp_path, JUDGE).spec.judge
    assert judge.enabled and judge.names == ("simplicity", "generality")
    assert judge.model == "judge" and judge.base_metric == "score"
    assert judge.instructions == "Prefer closed forms." and judge.max_code_chars == 5000
    assert judge.max_rationale_chars == 2000
    first, second = judge.criteria
    assert first == JudgeCriterion("simplicity", "short, readable code", 0.5)
    assert second.weight == 1.0 and isinstance(second.weight, float)  # an int weight
    assert first.metric == "judge.simplicity"


def test_no_table_or_no_criteria_is_off(tmp_path):
    assert not load_problem(write_problem(tmp_path / "a")).spec.judge.enabled
    assert not load(tmp_path, '\n[judge]\nmodel = "x"\n').spec.judge.enabled
    assert JudgeConfig().max_code_chars == 20000


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('\n[[judge.criteria]]\nname = "Simplicity"\n', "lower case letters"),
        ('\n[[judge.criteria]]\nname = "judge.x"\n', "lower case letters"),
        ('\n[[judge.criteria]]\nname = ""\n', "lower case letters"),
        ('\n[[judge.criteria]]\nname = "rationale"\n', "reserved"),
        ('\n[[judge.criteria]]\nname = "a"\n[[judge.criteria]]\nname = "a"\n', "unique"),
        ('\n[[judge.criteria]]\nname = "a"\nweight = -0.1\n', "finite and >= 0"),
        ('\n[[judge.criteria]]\nname = "a"\nweight = inf\n', "finite and >= 0"),
        ('\n[[judge.criteria]]\nname = "a"\nweight = nan\n', "finite and >= 0"),
        ('\n[[judge.criteria]]\nname = "a"\nweight = "high"\n', "weight"),
        ('\n[[judge.criteria]]\ndescription = "no name"\n', "missing required key"),
        ('\n[[judge.criteria]]\nname = "a"\nwieght = 1\n', "did you mean"),
        ("\n[judge]\nmax_code_chars = 10\n", "max_code_chars must be an integer >= 100"),
        ("\n[judge]\nmax_rationale_chars = 0\n", "max_rationale_chars"),
        ('\n[judge]\nbase_metric = "judged_score"\n', "a metric the judge writes"),
        ('\n[judge]\nbase_metric = "judge.simplicity"\n', "a metric the judge writes"),
        ('\n[judge]\nmodle = "x"\n', "did you mean 'judge.model'"),
        ('\n[judge]\ncriteria = "simplicity"\n', "criteria"),
    ],
)
def test_bad_judge_settings_are_refused_naming_the_file(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message) as err:
        load(tmp_path, table)
    assert "problem.toml" in str(err.value)


def test_the_dataclasses_validate_when_built_in_code():
    with pytest.raises(ValueError, match="lower case"):
        JudgeCriterion("has space")
    with pytest.raises(ValueError, match="finite"):
        JudgeCriterion("a", weight=math.inf)
    with pytest.raises(ValueError, match="number"):
        JudgeCriterion("a", weight=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unique; named more than once: a"):
        JudgeConfig(criteria=(JudgeCriterion("a"), JudgeCriterion("a")))
    with pytest.raises(ValueError, match="JudgeCriterion"):
        JudgeConfig(criteria=({"name": "a"},))  # type: ignore[arg-type]
    config = JudgeConfig(criteria=[JudgeCriterion("a", weight=2)])  # type: ignore[arg-type]
    assert config.criteria == (JudgeCriterion("a", weight=2.0),)  # a list becomes a tuple
    assert isinstance(config.criteria[0].weight, float)
