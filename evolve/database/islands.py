"""An island: one sub-population, kept in rank order.

Members are held in a list sorted by ``rank_key`` so that "the i-th best" is an
O(1) lookup: parent selection and inspiration choice then cost the same on an
island of ten programs as on one of ten thousand. Insertion and removal use
``bisect`` (O(log n) search plus an O(n) ``memmove`` of the list, which is fast
in practice; a later columnar store replaces this).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from evolve.records import Program, Status

__all__ = ["Island", "RankKey", "rank_key"]

# Ascending order is best first: (has no fitness, -fitness, failure order, insertion seq).
RankKey = tuple[int, float, int, int]

# Which failures rank higher among programs without a fitness: a scorer's
# rejection is closest to a working program, a crash the furthest.
_FAILURE_ORDER = {
    Status.OK: 0,
    Status.INVALID: 0,
    Status.TIMEOUT: 1,
    Status.OOM: 2,
    Status.ERROR: 3,
}


def rank_key(program: Program, seq: int) -> RankKey:
    """Sort key, smaller is better: valid first, then higher fitness, then earlier ``seq``."""
    if program.fitness is None:
        return (1, 0.0, _FAILURE_ORDER.get(program.status, len(_FAILURE_ORDER)), seq)
    return (0, -program.fitness, 0, seq)


class Island:
    """Membership, rank order, code index and migrant flags of one island.

    ``generation`` is the number of children added to this island (seeds and
    arriving migrants do not count); the database advances it.
    """

    def __init__(self, index: int) -> None:
        self.index = index
        self.generation = 0
        self.num_valid = 0
        self._ranked: list[tuple[int, float, int, int, str]] = []  # (*key, id), best first
        self._members: dict[str, tuple[RankKey, str]] = {}  # id -> (key, code_hash)
        self._by_code: dict[str, str] = {}  # code_hash -> id
        self._migrants: set[str] = set()

    def __len__(self) -> int:
        return len(self._ranked)

    def __contains__(self, program_id: object) -> bool:
        return program_id in self._members

    def holder_of(self, code_hash: str) -> str | None:
        """Id of the member with this code, or None."""
        return self._by_code.get(code_hash)

    @property
    def num_migrants(self) -> int:
        return len(self._migrants)

    def is_migrant(self, program_id: str) -> bool:
        """Whether ``program_id`` arrived here by migration (such programs never migrate on)."""
        return program_id in self._migrants

    def is_valid(self, program_id: str) -> bool:
        """Whether the member has a fitness (valid members are the first ``num_valid`` ranks)."""
        return self._members[program_id][0][0] == 0

    def code_hash_of(self, program_id: str) -> str:
        return self._members[program_id][1]

    def place(self, program: Program, key: RankKey, *, migrant: bool = False) -> None:
        """Add a member; the caller has checked that its code is not here yet."""
        if program.id in self._members or program.code_hash in self._by_code:
            raise ValueError(f"program {program.id} or its code is already on island {self.index}")
        bisect.insort(self._ranked, (*key, program.id))
        self._members[program.id] = (key, program.code_hash)
        self._by_code[program.code_hash] = program.id
        if migrant:
            self._migrants.add(program.id)
        if key[0] == 0:
            self.num_valid += 1

    def remove(self, program_id: str) -> None:
        key, code_hash = self._members.pop(program_id)
        entry = (*key, program_id)
        at = bisect.bisect_left(self._ranked, entry)
        del self._ranked[at]
        del self._by_code[code_hash]
        self._migrants.discard(program_id)
        if key[0] == 0:
            self.num_valid -= 1

    def id_at(self, rank: int) -> str:
        """Id of the member at ``rank`` (0 is the best)."""
        return self._ranked[rank][-1]

    def ranked_ids(self) -> Iterator[str]:
        """Member ids, best first (lazy, so taking the top k costs O(k))."""
        return (entry[-1] for entry in self._ranked)

    def best_id(self) -> str | None:
        return self._ranked[0][-1] if self._ranked else None

    def weakest_id(self) -> str:
        return self._ranked[-1][-1]

    def migrant_ids(self) -> list[str]:
        """Ids of members that arrived by migration, best first. O(size)."""
        return [pid for pid in self.ranked_ids() if pid in self._migrants]
