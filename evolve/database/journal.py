"""The database's journal: what a checkpoint appends instead of a full snapshot.

A full snapshot costs O(programs), so writing one at every commit makes a
commit cost grow with the run. Instead a checkpoint keeps an occasional full
snapshot (the *base*) and, after it, one journal entry per call that changed
the database (``add``, ``migrate``, ``reset``). Replaying the entries on the
restored base, in order, repeats those very calls, so it reproduces the state
exactly; only the generator needs help, because ``sample`` draws from it
between the calls and is not journalled (it changes nothing else but the
round-robin cursor). So each entry carries the generator state just before
its call, but only when the call itself drew from the generator (a due
migration with a random topology, a reset, a stagnant island choosing among
several better ones to re-seed from): a call that did not draw would
not draw on replay either (the state it sees is the same), so its entry needs
no state and stays ~30 bytes. Stagnation needs no entry of its own: it
happens inside an ``add``, so replaying the add repeats it (and re-spawns
any island it spawned; the base snapshot holds those spawned before it).
After the last entry the generator and the
cursor are set to their values at the checkpoint (``position``).

Entries are plain JSON values::

    {"op": "add", "id": "p000123"}                    # PopulationDatabase.add
    {"op": "migrate", "island": 2, "rng": {...}}      # PopulationDatabase.migrate
    {"op": "reset", "rng": {...}}                     # PopulationDatabase.reset

and a restorable journalled state (what ``RunStore.load_checkpoint`` hands
``PopulationDatabase.restore`` for a run that checkpoints this way) is::

    {"base": SNAPSHOT, "replay": [ENTRY, ...], "rng": {...}, "cursor": 1}

The database knows nothing of files: the run store decides when to write a
new base and where entries go (``evolve.store.database_log``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from evolve.records import Program

__all__ = ["Journal", "is_journalled", "replay"]

Entry = dict[str, Any]


def _state(rng: np.random.Generator) -> dict[str, Any]:
    return dict(rng.bit_generator.state)


class Journal:
    """Entries since the last ``take``, recorded around each changing call."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._entries: list[Entry] = []

    def before(self) -> dict[str, Any]:
        """The generator state before a call (``record`` keeps it if the call drew)."""
        return _state(self._rng)

    def record(self, entry: Entry, before: Mapping[str, Any]) -> None:
        if _state(self._rng) != before:
            entry["rng"] = dict(before)
        self._entries.append(entry)

    def take(self) -> list[Entry]:
        """The entries recorded since the last ``take``, oldest first; starts afresh."""
        entries, self._entries = self._entries, []
        return entries


def is_journalled(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` is a base plus entries to replay (else a plain snapshot)."""
    return "replay" in state


def replay(
    entries: Iterable[Mapping[str, Any]],
    rng: np.random.Generator,
    fetch: Callable[[str], Program],
    add: Callable[[Program], object],
    migrate: Callable[[int], object],
    reset: Callable[[], object],
) -> None:
    """Repeat each entry's call on a database restored from the base.

    ``fetch`` gives the program an ``add`` entry names (from the run store);
    ``add``/``migrate``/``reset`` are the database's own methods, so replay is
    the original code path, not a second implementation of it.
    """
    for number, entry in enumerate(entries):
        if "rng" in entry:
            rng.bit_generator.state = dict(entry["rng"])
        op = entry.get("op")
        if op == "add":
            add(fetch(str(entry["id"])))
        elif op == "migrate":
            migrate(int(entry["island"]))
        elif op == "reset":
            reset()
        else:
            raise ValueError(f"database journal entry {number} has an unknown op {op!r}")
