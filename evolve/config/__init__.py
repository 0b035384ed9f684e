"""Configuration: every file a user writes, read strictly into frozen types.

Owns the strict converter (``strict``: an unknown key or a wrong type is an
error naming the file, the key and the fix), the schema of problem.toml
(``problem_toml``), the [llm] table and ``--llm-config`` files (``llm``), loading a
problem folder into a ``Problem`` (``problem``), OpenEvolve's folders and
config.yaml (``openevolve``) and ShinkaEvolve's folders and run configs (``shinka``).

May import ``errors``, ``edits`` (the seed's EVOLVE-BLOCK markers are checked
at load time), ``database`` (its [database] table type), and ``sandboxes``
(the [resources] and [sandbox] table types, and the jobs a problem makes).
Never the engine, mutation, store or executors.
"""

from evolve.config.judge import JudgeConfig, JudgeCriterion
from evolve.config.llm import (
    NO_KEY,
    EditMix,
    LLMConfig,
    ModelSpec,
    PromptLimits,
    load_llm_config,
    resolve_api_key,
)
from evolve.config.meta import MetaConfig
from evolve.config.novelty import NoveltyConfig
from evolve.config.openevolve import load_openevolve_spec, translate_openevolve_config
from evolve.config.problem import MAX_PROBLEM_FILES_BYTES, Problem, load_problem
from evolve.config.problem_toml import (
    EvaluationSpec,
    FilesSpec,
    ObjectiveSpec,
    ProblemToml,
    PromptSpec,
)
from evolve.config.shinka import load_shinka_spec
from evolve.config.strict import from_mapping

__all__ = [
    "MAX_PROBLEM_FILES_BYTES",
    "NO_KEY",
    "EditMix",
    "EvaluationSpec",
    "FilesSpec",
    "JudgeConfig",
    "JudgeCriterion",
    "LLMConfig",
    "MetaConfig",
    "ModelSpec",
    "NoveltyConfig",
    "ObjectiveSpec",
    "Problem",
    "ProblemToml",
    "PromptLimits",
    "PromptSpec",
    "from_mapping",
    "load_llm_config",
    "load_openevolve_spec",
    "load_problem",
    "load_shinka_spec",
    "resolve_api_key",
    "translate_openevolve_config",
]
