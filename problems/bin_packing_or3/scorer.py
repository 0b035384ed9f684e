"""Scorer for bin_packing_or3: an online bin-packing heuristic, FunSearch's set-up.

The candidate defines ``priority(item, bins) -> np.ndarray``: given an item and
the remaining capacities of the bins that can take it, one score per bin; the
item goes to the bin with the highest score. As in FunSearch, every instance
starts with one empty bin per item (so "open a new bin" is choosing an empty
one) and the number of bins used is the number that received anything.

The heuristic is asked online, as FunSearch's set-up means: this process walks
the items and sends them **one at a time** to a child holding the candidate
(``candidate_session``), where ``_open`` and ``_place`` keep the bins and call
``priority``; the child never holds an item before it is placed (it used to get
the whole instance set, which a candidate can read and plan from offline). It
sends back only the chosen bin; this process then **replays** those choices on
its own copy of the data and rejects any that overflow a bin, skip an item or
name a bin that does not exist. So the reported bin counts are always those of
a real, online packing of exactly these items.

Metrics: ``excess_pct`` (the objective, lower is better): the mean number of
bins over the instances, as a percentage above the mean L1 lower bound
``ceil(sum(items) / capacity)``, as published by FunSearch; ``mean_bins`` and
``l1_bound`` alongside.
"""

import json
import math
import os

import numpy as np

from evaluators import CandidateCrashed, InvalidCandidate, candidate_session

DATASET = "or3.json"
CALL_TIMEOUT_S = 15.0  # problem.toml allows 20 s; best fit takes ~2.5 s


def load_instances() -> dict:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), DATASET)) as f:
        return json.load(f)


# The child's state (it runs _open and _place, rebuilt from this module): the
# remaining capacities of one empty bin per item of the current instance.
_bins = np.zeros(0)


def _open(module, capacity: float, count: int) -> None:
    """In the child: start an instance with ``count`` empty bins."""
    global _bins
    _bins = np.full(count, float(capacity))


def _place(module, item: float) -> int:
    """In the child: the bin ``priority`` chooses for ``item``, which goes there."""
    valid = np.flatnonzero(_bins >= item)
    scores = np.asarray(module.priority(item, _bins[valid]))
    if scores.shape != valid.shape:
        raise ValueError(
            f"priority() returned shape {scores.shape} for {len(valid)} bins; "
            "it must return one score per bin"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("priority() returned NaN or infinity")
    best = int(valid[int(np.argmax(scores))])
    _bins[best] -= item
    return best


def pack_online(program_path: str, instances: dict) -> dict:
    """The candidate's choice for every item, asked one item at a time."""
    choices = {}
    with candidate_session(program_path, timeout_s=CALL_TIMEOUT_S) as candidate:
        for name, instance in instances.items():
            items = instance["items"]
            candidate.call(_open, instance["capacity"], len(items))
            choices[name] = [candidate.call(_place, item) for item in items]
    return choices


def bins_used(instance: dict, chosen: object) -> int:
    """Replay ``chosen`` for ``instance``; the bins used, or InvalidCandidate."""
    items = instance["items"]
    capacity = instance["capacity"]
    if not isinstance(chosen, list) or len(chosen) != len(items):
        raise InvalidCandidate("the packing does not place every item exactly once")
    load = [0] * len(items)
    for item, b in zip(items, chosen, strict=True):
        if not isinstance(b, int) or isinstance(b, bool) or not 0 <= b < len(items):
            raise InvalidCandidate(f"the packing names a bin that does not exist: {b!r}")
        load[b] += item
        if load[b] > capacity:
            raise InvalidCandidate(f"the packing overfills bin {b} ({load[b]} > {capacity})")
    return sum(1 for x in load if x > 0)


def l1_bound(instance: dict) -> int:
    return math.ceil(sum(instance["items"]) / instance["capacity"])


def score_choices(instances: dict, choices: object) -> dict:
    if not isinstance(choices, dict) or set(choices) != set(instances):
        raise InvalidCandidate("the packing does not cover every instance")
    used = [bins_used(instances[name], choices[name]) for name in instances]
    bounds = [l1_bound(instances[name]) for name in instances]
    mean_bins = sum(used) / len(used)
    mean_l1 = sum(bounds) / len(bounds)
    return {
        "excess_pct": 100.0 * (mean_bins - mean_l1) / mean_l1,
        "mean_bins": mean_bins,
        "l1_bound": mean_l1,
    }


def evaluate(program_path: str) -> dict:
    instances = load_instances()
    try:
        choices = pack_online(program_path, instances)
    except CandidateCrashed as exc:
        raise InvalidCandidate(f"the heuristic failed: {exc}") from None
    return score_choices(instances, choices)
