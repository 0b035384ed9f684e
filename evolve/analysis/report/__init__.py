"""The HTML report of a run: one self-contained file (``evolve report RUN_DIR``).

``build.py`` assembles the page, ``html.py`` draws its static parts (score
curve, tables), ``assets/`` holds the template, CSS and the JS tree renderer.
"""

from evolve.analysis.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
