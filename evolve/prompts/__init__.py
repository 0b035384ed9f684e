"""Prompts for LLM mutation: templates (overridable per problem) and the builder."""

from evolve.prompts.builder import EDIT_KINDS, BuiltPrompt, PromptBuilder, objective_phrase
from evolve.prompts.limits import PromptLimits
from evolve.prompts.templates import OVERRIDE_DIR, Templates, load_templates

__all__ = [
    "EDIT_KINDS",
    "OVERRIDE_DIR",
    "BuiltPrompt",
    "PromptBuilder",
    "PromptLimits",
    "Templates",
    "load_templates",
    "objective_phrase",
]
