"""Inspect a run from a notebook: tables, the lineage graph, diffs, pictures.

    import evolve
    run = evolve.Run.open("runs/function_minimization-20261122-101500")
    run.programs.head()            # one row per program, metrics as columns
    run.best(5)                    # the top programs
    g = run.lineage()              # networkx.DiGraph, parent -> child
    print(run.diff(run.best(1).index[0]))
    run.path_to_best()             # ids from the seed to the best program
    run.plot_progress(); run.plot_lineage(); run.plot_islands()

``run.py`` holds :class:`Run`, ``lineage.py`` the graph and the tree layout
(shared with the HTML report), ``plots.py`` the matplotlib pictures.
"""

from evolve.notebook.run import Run

__all__ = ["Run"]
