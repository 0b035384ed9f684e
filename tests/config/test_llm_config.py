"""The [llm] table: strict loading, validation, and API keys from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from evolve.config import (
    NO_KEY,
    LLMConfig,
    ModelSpec,
    from_mapping,
    load_llm_config,
    resolve_api_key,
)
from evolve.errors import ConfigError
from evolve.mutation.llm import LLMProposer
from evolve.mutation.prompts import PromptBuilder

FULL = """
[llm]
max_concurrency = 8
timeout_s = 60
budget_usd = 2.5
selection = "ucb"

[llm.edit_mix]
diff = 0.7
rewrite = 0.3
crossover = 0

[llm.prompt]
max_prompt_chars = 20000

[[llm.models]]
name = "gpt-4o-mini"
weight = 3
price_input_per_mtok = 0.15
price_output_per_mtok = 0.6

[[llm.models]]
name = "qwen2.5-coder"
base_url = "http://127.0.0.1:8000/v1"
api_key_env = ""
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "llm.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_table_loads_with_defaults_for_the_rest(tmp_path):
    cfg = load_llm_config(write(tmp_path, FULL))
    assert [m.key for m in cfg.models] == ["gpt-4o-mini", "qwen2.5-coder"]
    assert cfg.models[0].base_url == "https://api.openai.com/v1"
    assert cfg.models[0].api_key_env == "OPENAI_API_KEY"
    assert cfg.models[0].weight == 3.0 and cfg.models[1].weight == 1.0
    assert cfg.selection == "ucb" and cfg.budget_usd == 2.5 and cfg.budget_tokens is None
    assert cfg.edit_mix.as_dict() == {"diff": 0.7, "rewrite": 0.3, "crossover": 0.0}
    assert cfg.prompt.max_prompt_chars == 20000 and cfg.prompt.max_inspirations == 3
    assert cfg.max_retries == 5 and cfg.max_concurrency == 8


def test_the_same_table_loads_from_a_problem_toml_mapping():
    data = {"models": [{"name": "m", "api_key_env": ""}]}
    cfg = from_mapping(LLMConfig, data, "problem.toml", prefix="llm.")
    assert cfg.models == (ModelSpec(name="m", api_key_env=""),)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("timeout_s = 60", "timeot_s = 60"),
            r"llm\.toml: unknown key 'llm\.timeot_s'.*'llm\.timeout_s'",
        ),
        (("weight = 3", 'weight = "3"'), r"key 'llm\.models\[0\]\.weight' must be float"),
        (
            ("weight = 3", "weight = 0"),
            r"\[llm\.models\[0\]\] model 'gpt-4o-mini': weight must be > 0",
        ),
        (("crossover = 0", "crossover = -1"), r"edit_mix weights must be >= 0"),
        (('selection = "ucb"', 'selection = "best"'), r"'llm\.selection' must be one of"),
        (
            ("max_prompt_chars = 20000", "max_prompt_chars = 10"),
            r"max_prompt_chars must be >= 1000",
        ),
        (('name = "qwen2.5-coder"', 'name = "gpt-4o-mini"'), r"listed twice.*label"),
    ],
)
def test_bad_tables_are_errors_naming_the_file_and_key(tmp_path, edit, message):
    text = FULL.replace(*edit)
    assert text != FULL
    with pytest.raises(ConfigError, match=message):
        load_llm_config(write(tmp_path, text))


def test_a_file_without_an_llm_table_or_models_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no \[llm\] table"):
        load_llm_config(write(tmp_path, "# nothing here\n"))
    with pytest.raises(ConfigError, match=r"missing required key 'llm\.models'"):
        load_llm_config(write(tmp_path, "[llm]\ntimeout_s = 3\n"))
    with pytest.raises(ConfigError, match="at least one model"):
        load_llm_config(write(tmp_path, "[llm]\nmodels = []\n"))
    with pytest.raises(ConfigError, match="unknown top-level"):
        load_llm_config(write(tmp_path, FULL + "\n[other]\nx = 1\n"))


def test_an_unset_key_variable_fails_at_start_up_naming_it(monkeypatch):
    monkeypatch.delenv("EVOLVE_TEST_MISSING_KEY", raising=False)
    spec = ModelSpec(name="m", api_key_env="EVOLVE_TEST_MISSING_KEY")
    cfg = LLMConfig(models=(spec,))
    with pytest.raises(ConfigError, match=r"EVOLVE_TEST_MISSING_KEY is not set.*api_key_env"):
        LLMProposer.create(cfg, PromptBuilder("system"))


def test_the_key_comes_from_the_environment_and_an_empty_variable_name_needs_none(monkeypatch):
    monkeypatch.setenv("EVOLVE_TEST_KEY", "sk-test")
    assert resolve_api_key(ModelSpec(name="m", api_key_env="EVOLVE_TEST_KEY")) == "sk-test"
    assert resolve_api_key(ModelSpec(name="m", api_key_env="")) == NO_KEY


def test_cost_follows_the_per_million_token_prices():
    spec = ModelSpec(name="m", price_input_per_mtok=2.0, price_output_per_mtok=10.0)
    assert spec.cost_usd(1_000_000, 0) == pytest.approx(2.0)
    assert spec.cost_usd(500, 100) == pytest.approx(0.002)
