"""The edit engine: from a parent program and an edit to a child program.

Owns EVOLVE-BLOCK regions (``regions``), SEARCH/REPLACE diffs
(``search_replace``), full rewrites and crossovers (``rewrite``), the one entry
point ``apply_proposal`` (``apply``) and the one rejection type ``EditError``
with its closed list of kinds (``errors``). Application is all-or-nothing and
only ever changes the parent's EVOLVE-BLOCK regions.

Pure text in, text out: imports nothing from evolve but its own modules, so
the offline mutator, the LLM path, the mutator server and the controller
share one engine.
"""

from evolve.edits.apply import EDIT_KINDS, EditKind, EditRequest, apply_proposal
from evolve.edits.errors import EDIT_ERROR_KINDS, EditError, editable_regions
from evolve.edits.regions import (
    END_MARKER,
    START_MARKER,
    MarkerError,
    Region,
    evolve_regions,
    is_marker_line,
    region_bodies,
    require_evolve_regions,
    split_lines,
)
from evolve.edits.rewrite import apply_rewrite, extract_code, replace_evolve_block
from evolve.edits.search_replace import (
    SearchReplace,
    apply_edit,
    apply_search_replace,
    format_search_replace,
    looks_like_diff,
    parse_search_replace,
)

__all__ = [
    "EDIT_ERROR_KINDS",
    "EDIT_KINDS",
    "END_MARKER",
    "START_MARKER",
    "EditError",
    "EditKind",
    "EditRequest",
    "MarkerError",
    "Region",
    "SearchReplace",
    "apply_edit",
    "apply_proposal",
    "apply_rewrite",
    "apply_search_replace",
    "editable_regions",
    "evolve_regions",
    "extract_code",
    "format_search_replace",
    "is_marker_line",
    "looks_like_diff",
    "parse_search_replace",
    "region_bodies",
    "replace_evolve_block",
    "require_evolve_regions",
    "split_lines",
]
