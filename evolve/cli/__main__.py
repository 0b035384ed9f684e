"""``python -m evolve.cli``: the same as the ``evolve`` command."""

import sys

from evolve.cli.main import main

sys.exit(main())
