"""RankedList agrees with a plain sorted list under any sequence of operations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evolve.database.ranked import RankedList

operations = st.lists(
    st.tuples(st.sampled_from(["add", "add", "remove", "get"]), st.integers(0, 4000)),
    max_size=1500,
)


@settings(max_examples=40, deadline=None)
@given(ops=operations, initial=st.sets(st.integers(0, 4000), max_size=800))
def test_matches_a_sorted_list(ops: list[tuple[str, int]], initial: set[int]) -> None:
    ranked = RankedList(sorted(initial))
    model = sorted(initial)
    for op, value in ops:
        if op == "add" and value not in model:
            ranked.add(value)
            model.append(value)
            model.sort()
        elif op == "remove" and model:
            victim = model.pop(value % len(model))
            ranked.remove(victim)
        elif op == "get" and model:
            rank = value % len(model)
            assert ranked[rank] == model[rank]
    assert list(ranked) == model
    assert len(ranked) == len(model)
    assert all(ranked[i] == model[i] for i in range(len(model)))
    assert ranked.head(5) == model[:5]


def test_unsorted_initial_keys_are_sorted_and_missing_keys_raise() -> None:
    ranked = RankedList([3, 1, 2])
    assert list(ranked) == [1, 2, 3] and ranked.last() == 3
    try:
        ranked.remove(7)
    except KeyError:
        pass
    else:
        raise AssertionError("removing a missing key must raise KeyError")


def test_chunks_split_and_ranks_stay_exact_at_scale() -> None:
    ranked = RankedList()
    for value in range(5000, 0, -1):
        ranked.add(value)
    assert [ranked[r] for r in (0, 255, 256, 511, 512, 2048, 4999)] == [
        1,
        256,
        257,
        512,
        513,
        2049,
        5000,
    ]
    for value in range(1, 5001, 2):
        ranked.remove(value)
    assert ranked[0] == 2 and ranked[len(ranked) - 1] == 5000 and len(ranked) == 2500
