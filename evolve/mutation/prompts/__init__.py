"""Prompts for LLM mutation: the templates (files a problem can override) and
the builder that fills them with a parent, inspirations and feedback.

May import ``config`` (the [llm.prompt] limits), ``edits`` (the edit kinds)
and ``records``.
"""

from evolve.mutation.prompts.builder import BuiltPrompt, PromptBuilder, objective_phrase
from evolve.mutation.prompts.templates import OVERRIDE_DIR, Templates, load_templates

__all__ = [
    "OVERRIDE_DIR",
    "BuiltPrompt",
    "PromptBuilder",
    "Templates",
    "load_templates",
    "objective_phrase",
]
