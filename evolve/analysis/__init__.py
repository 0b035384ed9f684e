"""Inspect a run from a notebook: tables, the lineage graph, diffs, pictures.

    import evolve
    run = evolve.Run.open("runs/function_minimization-20261122-101500")
    run.programs.head()            # one row per program, metrics as columns
    run.best(5)                    # the top programs
    g = run.lineage()              # networkx.DiGraph, parent -> child
    print(run.diff(run.best(1).index[0]))
    run.path_to_best()             # ids from the seed to the best program
    run.plot_progress(); run.plot_lineage(); run.plot_islands()

Owns reading a finished or live run for people: ``run`` (:class:`Run`, the
notebook API, also ``evolve.Run``), ``lineage`` (the graph and the tree layout
shared with the HTML report), ``plots`` (matplotlib pictures), ``summary``
(what ``evolve show`` prints), ``export`` (a program to a file) and ``report/``
(the self-contained HTML report).

May import ``store``, ``records`` and ``errors``: everything here is read from
the run directory, never from a live engine, so it works on a run another
process is writing. Nothing is re-exported here: ``evolve show`` reads the
summary without paying for pandas and networkx, which ``Run`` needs.
"""
