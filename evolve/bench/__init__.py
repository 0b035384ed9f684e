"""``evolve bench``: a problem under several configurations ("arms", best-of-N
sampling among them) x K seeds at one evaluation budget, with the median best
and its bootstrap interval per arm: the yardstick every search feature is
measured with (``arms``: the configurations; ``grid``: the runs; ``stats``:
medians and intervals; ``report``: the table, bench.json and the plot).

May import ``engine`` (it starts ordinary runs), ``analysis`` (it reads them
back), ``config``, ``mutation`` (run settings), ``errors`` and ``sandboxes``.
"""
