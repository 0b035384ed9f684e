"""``python -m evolve.testing``: the mutator server without the evolve CLI."""

from evolve.testing.serve import main

raise SystemExit(main())
