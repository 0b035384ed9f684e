"""The command line: ``main`` builds the parser and maps errors to exit codes;
one module per command group (``run``: run and resume; ``inspect``: show,
report, export; ``evaluate``: eval; ``mutator``: mutator serve; ``sandbox``:
sandbox build and tag); ``terminal`` makes text that is not ours (a candidate's,
a scorer's, a run directory's) safe to print.

The top of the import graph: may import every package; nothing imports it.
"""

from evolve.cli.main import main

__all__ = ["main"]
