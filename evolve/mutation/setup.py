"""Choose and build the run's Proposer from its settings (offline or an LLM ensemble).

The settings are plain data (saved in run.json) so `evolve resume` rebuilds the
same ensemble with the same prompts, budget and record/replay files.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evolve.config import LLMConfig, ModelSpec, Problem, from_mapping, load_llm_config
from evolve.errors import ConfigError
from evolve.mutation.llm import RECORD_FILE, LLMCall, LLMProposer, check_models
from evolve.mutation.meta import MetaPrompting
from evolve.mutation.offline import OfflineProposer
from evolve.mutation.prompts import PromptBuilder
from evolve.mutation.protocol import Proposer

__all__ = [
    "MutationSettings",
    "build_proposer",
    "preflight",
    "resolve_llm_config",
    "settings_for",
]


@dataclass(frozen=True)
class MutationSettings:
    """How children are proposed. ``llm`` is the resolved [llm] table (no secrets:
    keys are named by environment variable only)."""

    model: str = "offline"
    llm: dict[str, Any] | None = None
    record: bool = False
    replay: str | None = None


def resolve_llm_config(
    problem: Problem,
    model: str,
    llm_config_path: str | None = None,
    base_url: str | None = None,
    api_key_env: str | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
) -> LLMConfig | None:
    """The LLM config a `run` asked for, or None for the offline mutator.

    ``model``: "offline"; "llm" (the [llm] table of ``--llm-config`` or of
    problem.toml); or a model name served at ``base_url``.
    """
    if model == "offline":
        if llm_config_path or base_url:
            raise ConfigError(
                "--llm-config/--base-url need an LLM: pass --model llm (the [llm] table) "
                "or --model NAME --base-url URL"
            )
        return None
    if model == "llm":
        if llm_config_path is not None:
            config = load_llm_config(llm_config_path)
        elif problem.spec.llm is not None:
            config = problem.spec.llm
        else:
            raise ConfigError(
                f"--model llm: {problem.root}/problem.toml has no [llm] table and no "
                "--llm-config FILE was given; add [[llm.models]] or use --model offline"
            )
    else:
        if base_url is None:
            raise ConfigError(
                f"--model {model}: say where it is served with --base-url URL "
                "(e.g. http://127.0.0.1:8000/v1), or use --model llm with an [llm] table"
            )
        spec = ModelSpec(
            name=model,
            base_url=base_url,
            api_key_env="OPENAI_API_KEY" if api_key_env is None else api_key_env,
        )
        config = LLMConfig(models=(spec,))
    overrides: dict[str, Any] = {}
    if budget_usd is not None:
        overrides["budget_usd"] = budget_usd
    if budget_tokens is not None:
        overrides["budget_tokens"] = budget_tokens
    return dataclasses.replace(config, **overrides) if overrides else config


def settings_for(config: LLMConfig | None, record: bool, replay: str | None) -> MutationSettings:
    if config is None:
        if record or replay:
            raise ConfigError(
                "--record/--replay apply to LLM runs; the offline mutator needs neither"
            )
        return MutationSettings()
    return MutationSettings(
        model="llm", llm=dataclasses.asdict(config), record=record, replay=replay
    )


def _config(settings: MutationSettings, run_dir: Path) -> LLMConfig:
    assert settings.llm is not None
    return from_mapping(LLMConfig, settings.llm, run_dir / "run.json", prefix="llm.")


def preflight(settings: MutationSettings, proposer: Proposer | None = None) -> list[LLMCall]:
    """One cheap call per model, so a wrong key, URL or model name fails at
    start-up rather than an hour into the run (skipped offline and on replay).

    Returns the calls' records; an LLM ``proposer`` also keeps them, so the
    run's first commit writes them to its llm_calls table with the others
    (edit_kind "preflight") and its token count is the server's.
    """
    if settings.model == "offline" or settings.replay is not None:
        return []
    calls = asyncio.run(check_models(_config(settings, Path("."))))
    if isinstance(proposer, LLMProposer):
        proposer.account_checks(calls)
    return calls


def build_proposer(settings: MutationSettings, problem: Problem, run_dir: Path) -> Proposer:
    """The Proposer for ``settings``; LLM keys are resolved here, so a missing
    environment variable fails before any work is done."""
    meta = problem.spec.meta
    if settings.model == "offline":
        if meta.enabled:
            raise ConfigError(
                f"[meta] of {problem.root}/problem.toml: evolved prompts and the scratchpad "
                "are written by an LLM; run with --model llm, or remove [meta] (the offline "
                "mutator reads no instructions)"
            )
        return OfflineProposer()
    config = _config(settings, run_dir)
    objective = problem.spec.objective
    direction = "higher is better" if objective.maximize else "lower is better"
    prompts = PromptBuilder.for_problem(
        problem.root, problem.spec.prompt.system, config.prompt, f"{objective.metric} ({direction})"
    )
    replay = None
    if settings.replay is not None:
        replay = Path(settings.replay)
        if replay.is_dir():
            replay = replay / RECORD_FILE
    proposer = LLMProposer.create(
        config,
        prompts,
        record_path=run_dir / RECORD_FILE if settings.record else None,
        replay_path=replay,
    )
    if meta.enabled:
        proposer.meta = _meta_prompting(proposer, problem, prompts.objective)
    return proposer


def _meta_prompting(proposer: LLMProposer, problem: Problem, objective: str) -> MetaPrompting:
    """``[meta]``'s writers, asking its ``model`` through the proposer (accounted,
    recorded and replayed like a proposal)."""
    meta = problem.spec.meta
    model = meta.model or proposer.config.models[0].key
    if model not in proposer.clients:
        raise ConfigError(
            f"[meta] of {problem.root}/problem.toml: model {model!r} is not a model of "
            f"the [llm] table (known: {', '.join(proposer.clients)})"
        )

    async def ask(messages: Sequence[Mapping[str, Any]], seed: int, purpose: str) -> str | None:
        return await proposer.ask(model, messages, seed, purpose)

    return MetaPrompting(meta, problem.spec.prompt.system, objective, ask)
