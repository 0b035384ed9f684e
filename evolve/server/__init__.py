"""Helpers of the OpenAI-compatible mutator server; the public entry point is
``evolve.mutator_server`` (import from there)."""
