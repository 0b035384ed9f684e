"""What the database knows about every program ever added, in numpy columns.

A program is an index (its position in add order) into columns of fitness,
rank class, oriented objectives, MAP-Elites coordinates, child counts and code
hashes, so a million programs cost tens of megabytes, not a million dicts.
The code and the rest of a ``Program`` stay in the run store and are fetched
through ``program_lookup`` only for the few programs a caller asks for; without
a lookup the table keeps the ``Program`` objects itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from evolve.database.arrays import decode_array, encode_array
from evolve.records import Program

__all__ = ["ProgramTable", "hash_key"]

_COLUMNS = ("fitness", "rank_class", "objectives", "coords", "children", "code", "norm")


def hash_key(hex_digest: str) -> int:
    """A 128-bit hex hash as one Python int (an exact, compact dict key)."""
    return int(hex_digest[:32], 16)


class ProgramTable:
    """Columns indexed by program index; ids, dedup indexes and (optionally) programs.

    ``rank_class`` is 0 for a program selection can rank by fitness, else 1 +
    its failure order (see ``objectives.rank_class``). ``code`` and ``norm``
    hold the exact and normalised code hashes as (high, low) uint64 pairs.
    """

    def __init__(
        self,
        num_objectives: int,
        num_dims: int,
        program_lookup: Callable[[str], Program] | None = None,
    ) -> None:
        self.ids: list[str] = []
        self._index: dict[str, int] = {}
        self._by_code: dict[int, int] = {}  # exact code hash -> first index
        self._by_norm: dict[int, int] = {}  # normalised code hash -> first index
        self._norm_keys: list[int] = []  # the int of each program's norm hash (shared)
        self._lookup = program_lookup
        self._programs: list[Program] | None = None if program_lookup else []
        self.fitness = np.empty(0, np.float64)
        self.rank_class = np.empty(0, np.int8)
        self.objectives = np.empty((0, num_objectives), np.float64)
        self.coords = np.empty((0, num_dims), np.int32)
        self.children = np.empty(0, np.int32)
        self.code = np.empty((0, 2), np.uint64)
        self.norm = np.empty((0, 2), np.uint64)
        self._grow(1024)

    def __len__(self) -> int:
        return len(self.ids)

    def _grow(self, capacity: int) -> None:
        for name in _COLUMNS:
            old = getattr(self, name)
            new = np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[: len(self.ids)] = old[: len(self.ids)]
            setattr(self, name, new)

    def append(
        self,
        program: Program,
        rank_class: int,
        objectives: list[float],
        coords: tuple[int, ...],
        norm_hash: str,
    ) -> int:
        """Record a new program; returns its index."""
        idx = len(self.ids)
        if idx == len(self.fitness):
            self._grow(2 * idx)
        self.fitness[idx] = np.nan if program.fitness is None else program.fitness
        self.rank_class[idx] = rank_class
        self.objectives[idx] = objectives
        self.coords[idx] = coords
        code_key, norm_key = hash_key(program.code_hash), hash_key(norm_hash)
        self.code[idx] = divmod(code_key, 1 << 64)
        self.norm[idx] = divmod(norm_key, 1 << 64)
        self._register(program.id, idx, code_key, norm_key)
        if self._programs is not None:
            self._programs.append(program)
        return idx

    def _register(self, pid: str, idx: int, code_key: int, norm_key: int) -> None:
        self.ids.append(pid)
        self._index[pid] = idx
        self._by_code.setdefault(code_key, idx)
        first = self._by_norm.setdefault(norm_key, idx)
        # Share one int object per distinct code: islands key their code index by it.
        self._norm_keys.append(norm_key if first == idx else self._norm_keys[first])

    # ----- lookups ---------------------------------------------------------------------

    def index_of(self, pid: str) -> int | None:
        return self._index.get(pid)

    def norm_key(self, idx: int) -> int:
        """The normalised code hash of program ``idx`` as a dict key."""
        return self._norm_keys[idx]

    def first_with_code(self, code_hash: str) -> int | None:
        return self._by_code.get(hash_key(code_hash))

    def first_with_norm(self, norm_hash: str) -> int | None:
        return self._by_norm.get(hash_key(norm_hash))

    def program(self, idx: int) -> Program:
        """The full program: kept in memory, or fetched from the run store."""
        if self._programs is not None:
            return self._programs[idx]
        assert self._lookup is not None
        return self._lookup(self.ids[idx])

    def cell(self, idx: int) -> tuple[int, ...]:
        return tuple(self.coords[idx].tolist())

    # ----- snapshots -------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        n = len(self.ids)
        return {
            "ids": list(self.ids),
            **{name: encode_array(getattr(self, name)[:n]) for name in _COLUMNS},
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        num_objectives: int,
        num_dims: int,
        programs: Mapping[str, Program] | None,
        program_lookup: Callable[[str], Program] | None,
    ) -> ProgramTable:
        """Rebuild the table; ``programs`` (id -> Program) when no lookup is given."""
        table = cls(num_objectives, num_dims, program_lookup)
        ids = list(state["ids"])
        columns = {name: decode_array(state[name]) for name in _COLUMNS}
        table._grow(max(1024, len(ids)))
        for name, column in columns.items():
            getattr(table, name)[: len(ids)] = column
        code_keys = [(high << 64) | low for high, low in columns["code"].tolist()]
        norm_keys = [(high << 64) | low for high, low in columns["norm"].tolist()]
        for idx, pid in enumerate(ids):
            table._register(pid, idx, code_keys[idx], norm_keys[idx])
        if table._programs is not None:
            assert programs is not None
            for pid in ids:
                if pid not in programs:
                    raise ValueError(
                        f"the snapshot names program {pid!r}, missing from the run store"
                    )
                table._programs.append(programs[pid])
        return table
