"""A sorted list with O(log n) insertion and O(log n) lookup by rank.

Parent selection asks for "the member at rank r" on islands that may hold
hundreds of thousands of programs. A flat sorted list makes every insertion an
O(n) memmove; here keys live in chunks of a few hundred (insertion touches one
chunk) and a Fenwick tree over chunk lengths finds the chunk holding rank r.
The first chunk is read directly, so the top ranks that rank-based selection
favours cost O(1). Keys must be unique and totally ordered (the database's keys
end with the program's index).
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from itertools import chain, islice, pairwise
from typing import Any

__all__ = ["RankedList"]

_LOAD = 256  # chunks split at twice this length


class RankedList:
    """Unique keys in ascending order (rank 0 is the smallest key)."""

    def __init__(self, keys: Iterable[Any] = ()) -> None:
        ordered = list(keys)
        if any(a >= b for a, b in pairwise(ordered)):
            ordered = sorted(set(ordered))
        self._chunks: list[list[Any]] = [
            ordered[i : i + _LOAD] for i in range(0, len(ordered), _LOAD)
        ]
        self._maxes: list[Any] = [c[-1] for c in self._chunks]
        self._len = len(ordered)
        self._tree: list[int] | None = None

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        return chain.from_iterable(self._chunks)

    def head(self, count: int) -> list[Any]:
        """The ``count`` smallest keys, in order. O(count)."""
        if self._chunks and count <= len(self._chunks[0]):
            return self._chunks[0][:count]
        return list(islice(self, count))

    def last(self) -> Any:
        return self._chunks[-1][-1]

    def clear(self) -> None:
        self._chunks, self._maxes, self._len, self._tree = [], [], 0, None

    def add(self, key: Any) -> None:
        """Insert ``key`` (not present yet)."""
        if not self._chunks:
            self._chunks.append([key])
            self._maxes.append(key)
            self._len, self._tree = 1, None
            return
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            i -= 1
            self._chunks[i].append(key)
            self._maxes[i] = key
        else:
            insort(self._chunks[i], key)
        self._len += 1
        chunk = self._chunks[i]
        if len(chunk) > 2 * _LOAD:
            self._chunks.insert(i + 1, chunk[_LOAD:])
            del chunk[_LOAD:]
            self._maxes[i] = chunk[-1]
            self._maxes.insert(i + 1, self._chunks[i + 1][-1])
            self._tree = None
        elif self._tree is not None:
            self._tree_add(i, 1)

    def remove(self, key: Any) -> None:
        """Delete ``key``; ``KeyError`` if it is not present."""
        i = bisect_left(self._maxes, key)
        chunk = self._chunks[i] if i < len(self._chunks) else []
        j = bisect_left(chunk, key)
        if j == len(chunk) or chunk[j] != key:
            raise KeyError(key)
        del chunk[j]
        self._len -= 1
        if not chunk:
            del self._chunks[i]
            del self._maxes[i]
            self._tree = None
            return
        self._maxes[i] = chunk[-1]
        if self._tree is not None:
            self._tree_add(i, -1)

    def __getitem__(self, rank: int) -> Any:
        """The key at ``rank`` (0 is the smallest); O(1) in the first chunk, else O(log n)."""
        if not 0 <= rank < self._len:
            raise IndexError(f"rank {rank} outside 0..{self._len - 1}")
        first = self._chunks[0]
        if rank < len(first):
            return first[rank]
        chunk, offset = self._locate(rank)
        return self._chunks[chunk][offset]

    # ----- Fenwick tree over chunk lengths -------------------------------------------

    def _build(self) -> list[int]:
        tree = [0] * (len(self._chunks) + 1)
        for i, chunk in enumerate(self._chunks, start=1):
            tree[i] += len(chunk)
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self._tree = tree
        return tree

    def _tree_add(self, chunk: int, delta: int) -> None:
        tree = self._tree
        assert tree is not None
        i = chunk + 1
        while i < len(tree):
            tree[i] += delta
            i += i & -i

    def _locate(self, rank: int) -> tuple[int, int]:
        """(chunk, offset in chunk) of ``rank``, by descending the Fenwick tree."""
        tree = self._tree if self._tree is not None else self._build()
        pos, remaining = 0, rank
        step = 1 << (len(tree) - 1).bit_length()
        while step:
            nxt = pos + step
            if nxt < len(tree) and tree[nxt] <= remaining:
                pos, remaining = nxt, remaining - tree[nxt]
            step >>= 1
        return pos, remaining
