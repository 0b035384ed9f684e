"""Scorer for bin_packing_weibull5k: an online bin-packing heuristic, FunSearch's set-up.

The candidate defines ``priority(item, bins) -> np.ndarray``: given an item and
the remaining capacities of the bins that can take it, one score per bin; the
item goes to the bin with the highest score. As in FunSearch, every instance
starts with one empty bin per item (so "open a new bin" is choosing an empty
one) and the number of bins used is the number that received anything.

The simulation (this module's ``_pack``) runs in a child process together with
the candidate (``call_candidate`` with a driver), one call per item. It sends
back only the chosen bin of every item; this process then **replays** those
choices on its own copy of the data and rejects any that overflow a bin,
skip an item or name a bin that does not exist. So the reported bin counts are
always those of a real packing of exactly these items.

Metrics: ``excess_pct`` (the objective, lower is better): the mean number of
bins over the instances, as a percentage above the mean L1 lower bound
``ceil(sum(items) / capacity)``, as published by FunSearch; ``mean_bins`` and
``l1_bound`` alongside.
"""

import json
import math
import os

import numpy as np

from evaluators import CandidateCrashed, InvalidCandidate, call_candidate

DATASET = "weibull_5k.json"
CALL_TIMEOUT_S = 50.0  # problem.toml allows 60 s; best fit takes ~1.5 s


def load_instances() -> dict:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), DATASET)) as f:
        return json.load(f)


def _pack(module, instances: dict) -> dict:
    """In the child: run the online heuristic over every instance; return the choices."""
    priority = module.priority
    choices = {}
    for name, instance in instances.items():
        items = instance["items"]
        bins = np.full(len(items), instance["capacity"])
        chosen = []
        for item in items:
            valid = np.flatnonzero(bins >= item)
            scores = np.asarray(priority(item, bins[valid]))
            if scores.shape != valid.shape:
                raise ValueError(
                    f"priority() returned shape {scores.shape} for {len(valid)} bins; "
                    "it must return one score per bin"
                )
            if not np.all(np.isfinite(scores)):
                raise ValueError("priority() returned NaN or infinity")
            best = int(valid[int(np.argmax(scores))])
            bins[best] -= item
            chosen.append(best)
        choices[name] = chosen
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
        choices = call_candidate(program_path, _pack, args=(instances,), timeout_s=CALL_TIMEOUT_S)
    except CandidateCrashed as exc:
        raise InvalidCandidate(f"the heuristic failed: {exc}") from None
    return score_choices(instances, choices)
