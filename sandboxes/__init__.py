"""Where a candidate runs: the Sandbox interface and its backends.

May use ``evaluators`` (to ship and start the harness) but never ``evolve``: a
sandbox knows jobs and results, not databases or LLMs.
"""
