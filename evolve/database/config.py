"""Configuration of the population database: typed, validated dataclasses.

Validation lives here (not in the config loader) so that a database built in a
notebook or a test gets the same errors as one built from a run's config file;
the loader re-raises the ``ValueError`` with the file name in front.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from evolve.database.validation import at_least, finite_number, positive_number, unit_interval

__all__ = [
    "ArchivePolicy",
    "DatabaseConfig",
    "FeatureDimension",
    "Objective",
    "ObjectiveOrder",
    "SelectionName",
    "StagnationAction",
    "Topology",
]

SelectionName = Literal["rank", "uniform", "tournament", "fitness", "weighted", "mix", "seed"]
Topology = Literal["ring", "all", "random"]
ArchivePolicy = Literal["fitness", "crowding"]
ObjectiveOrder = Literal["pareto", "lexicographic"]
StagnationAction = Literal["reseed", "spawn"]
Scale = Literal["linear", "log"]

# Pareto fronts are recomputed over a whole island (O(n^2) comparisons), so the
# island must stay small enough for that to take milliseconds.
MAX_PARETO_ISLAND = 4096


@dataclass(frozen=True)
class FeatureDimension:
    """One axis of the MAP-Elites grid: a scorer metric or a built-in code feature.

    Bins never drift: a value's cell depends only on the value and this spec.
    Either a fixed range (``min``, ``max``, ``bins``; values outside fall in the
    edge bins) or an unbounded grid of ``width``-wide bins (cell =
    floor(value / width)). With ``scale = "log"`` both apply to
    sign(v) * log2(1 + |v|), so a log grid of width 0.25 has 4 cells per
    doubling. Given only a name, a dimension gets that log grid (``ast_depth``:
    a linear grid of width 1). A missing or NaN value falls in a dedicated
    "unknown" cell.
    """

    name: str
    min: float | None = None
    max: float | None = None
    bins: int | None = None
    width: float | None = None
    scale: Scale | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a metric name or a built-in feature, got {self.name!r}")
        if self.scale is not None and self.scale not in get_args(Scale):
            raise ValueError(f"scale must be 'linear' or 'log', got {self.scale!r}")
        ranged = any(v is not None for v in (self.min, self.max, self.bins))
        if ranged:
            if self.bins is None or self.min is None or self.max is None or self.width is not None:
                raise ValueError(
                    f"feature {self.name!r} must set all of min, max and bins (a fixed range) "
                    "or only width (an unbounded grid)"
                )
            finite_number("min", self.min)
            finite_number("max", self.max)
            if not self.min < self.max:
                raise ValueError(f"max must be > min ({self.min!r}), got {self.max!r}")
            at_least("bins", self.bins, 1)
        elif self.width is not None:
            positive_number("width", self.width)
        explicit = ranged or self.width is not None
        if self.scale is None:
            linear = explicit or self.name == "ast_depth"
            object.__setattr__(self, "scale", "linear" if linear else "log")
        if not explicit:
            object.__setattr__(self, "width", 0.25 if self.scale == "log" else 1.0)

    @classmethod
    def default_for(cls, name: str) -> FeatureDimension:
        """The binning a dimension given by name only gets (same as ``cls(name)``)."""
        return cls(name)


@dataclass(frozen=True)
class Objective:
    """A metric to optimise in multi-objective mode, and which way is better."""

    metric: str
    direction: Literal["maximize", "minimize"] = "maximize"

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"metric must be a non-empty metric name, got {self.metric!r}")
        if self.direction not in ("maximize", "minimize"):
            raise ValueError(f"direction must be 'maximize' or 'minimize', got {self.direction!r}")


_MIXABLE = ("uniform", "rank", "tournament", "fitness", "weighted")


@dataclass(frozen=True)
class DatabaseConfig:
    """How programs are kept on islands and in cells, chosen as parents and exchanged.

    Islands and migration:
        num_islands: independent sub-populations (>= 1).
        migration_interval: island generations (children added to the island)
            between two migrations out of it (>= 1).
        migration_fraction: share of an island's size whose best natives are
            copied to its neighbours at a migration, in [0, 1]; any value > 0
            migrates at least one program, 0 turns migration off.
        max_migrants: cap on programs sent per neighbour per migration (>= 1),
            so a migration costs O(max_migrants) however large the island.
        migration_topology: "ring" (to the next island), "all" (to every other
            island) or "random" (to one other island drawn at random).
        reset_interval: every this many programs added, the weaker half of the
            islands is emptied and re-seeded from a random surviving island's
            best (FunSearch); 0 (the default) turns resets off.
        max_island_size: when set (>= 1), an island that grows past it evicts
            its weakest program; the island's best is never evicted.

    Stagnation (``evolve.database.stagnation``):
        stagnation_window: an island none of whose last this-many children
            beat the best fitness it has held is stagnant (>= 0; 0, the
            default, turns it off); it then gets ``stagnation_action`` and
            its count starts again.
        stagnation_action: "reseed" (the default: the island is emptied and
            re-seeded with the best program of a random island whose best is
            strictly better; an island that holds the run's best, or that no
            island beats, is left as it is) or "spawn" (a new island is added,
            founded by the run's best program, and the stagnant island goes
            on; once there are ``max_islands`` islands, a stagnant island is
            reseeded instead).
        max_islands: with "spawn", the most islands there may be
            (>= num_islands); unset means twice num_islands.

    Parent selection:
        selection: "rank" (power law over fitness ranks), "tournament",
            "uniform", "fitness" (softmax of fitness), "weighted"
            (ShinkaEvolve: sigmoid of normalised fitness times
            1 / (1 + children)), "mix" (see selection_mix) or "seed" (always
            the first program, the seed: no evolution, the best-of-N baseline
            of ``evolve bench``).
        rank_exponent: power-law exponent of "rank" (>= 0; 0 is uniform).
        tournament_size: draws per tournament of "tournament" (>= 1).
        exploration_ratio: probability, in [0, 1], that "rank" or "tournament"
            draws uniformly instead.
        softmax_temperature: temperature (> 0) of "fitness", applied to
            fitness rescaled to [-1, 0] over the window (so it is scale-free).
        weighted_lambda: sigmoid sharpness of "weighted" (>= 0).
        selection_window: "fitness" and "weighted" weigh the island's top
            this-many programs (>= 1), which keeps a draw O(window) at any
            island size (ShinkaEvolve weighs its bounded archive the same way).
        selection_mix: with selection = "mix", the share of each strategy,
            e.g. {uniform = 0.2, rank = 0.5, weighted = 0.3} (normalised).

    Inspirations:
        num_inspirations: programs shown beside the parent (>= 0).
        top_inspirations: how many of them are the island's top programs (best
            first); unset means half, rounded up.
        archive_inspirations: how many come from the cross-island archive.
        The rest are elites of other MAP-Elites cells of the island, then
        random members.

    MAP-Elites and archive:
        feature_dimensions: axes of each island's grid of cells, one
            FeatureDimension table each, naming a scorer metric or a built-in
            (code_length, ast_nodes, ast_depth); empty means one cell per island.
        archive_size: elites kept across islands (>= 0; 0 turns it off).
        archive_policy: when the archive is full, "fitness" replaces the
            weakest member, "crowding" the most similar weaker one.

    Objectives:
        objectives: metrics with directions; empty (the default) selects on
            the program's fitness alone.
        objective_order: with objectives, "pareto" (non-dominated rank; needs
            max_island_size <= 4096) or "lexicographic".
    """

    num_islands: int = 4
    migration_interval: int = 10
    migration_fraction: float = 0.1
    selection: SelectionName = "rank"
    rank_exponent: float = 1.0
    tournament_size: int = 3
    exploration_ratio: float = 0.2
    num_inspirations: int = 3
    max_island_size: int | None = None
    max_migrants: int = 10
    migration_topology: Topology = "ring"
    reset_interval: int = 0
    softmax_temperature: float = 0.2
    weighted_lambda: float = 10.0
    selection_window: int = 256
    selection_mix: dict[str, float] = field(default_factory=dict)
    top_inspirations: int | None = None
    archive_inspirations: int = 0
    feature_dimensions: tuple[FeatureDimension, ...] = ()
    archive_size: int = 50
    archive_policy: ArchivePolicy = "crowding"
    objectives: tuple[Objective, ...] = ()
    objective_order: ObjectiveOrder = "pareto"
    stagnation_window: int = 0
    stagnation_action: StagnationAction = "reseed"
    max_islands: int | None = None

    def __post_init__(self) -> None:
        at_least("num_islands", self.num_islands, 1)
        at_least("migration_interval", self.migration_interval, 1)
        unit_interval("migration_fraction", self.migration_fraction)
        at_least("max_migrants", self.max_migrants, 1)
        _one_of("migration_topology", self.migration_topology, get_args(Topology))
        at_least("reset_interval", self.reset_interval, 0, "an integer >= 0 (0 is off)")
        if self.max_island_size is not None:
            at_least("max_island_size", self.max_island_size, 1, "an integer >= 1 or unset")
        self._check_selection()
        self._check_inspirations()
        self._check_features()
        at_least("archive_size", self.archive_size, 0, "an integer >= 0 (0 is off)")
        _one_of("archive_policy", self.archive_policy, get_args(ArchivePolicy))
        self._check_objectives()
        self._check_stagnation()

    def _check_stagnation(self) -> None:
        at_least("stagnation_window", self.stagnation_window, 0, "an integer >= 0 (0 is off)")
        _one_of("stagnation_action", self.stagnation_action, get_args(StagnationAction))
        if self.max_islands is None:
            return
        if self.stagnation_action != "spawn":
            raise ValueError(
                f"max_islands is only read when stagnation_action = 'spawn' (it is "
                f"{self.stagnation_action!r}); remove it or set stagnation_action = 'spawn'"
            )
        at_least(
            "max_islands",
            self.max_islands,
            self.num_islands,
            f"an integer >= num_islands ({self.num_islands}) or unset",
        )

    def _check_selection(self) -> None:
        _one_of("selection", self.selection, get_args(SelectionName))
        if not (math.isfinite(self.rank_exponent) and self.rank_exponent >= 0):
            raise ValueError(
                f"rank_exponent must be a finite number >= 0, got {self.rank_exponent!r}"
            )
        at_least("tournament_size", self.tournament_size, 1)
        unit_interval("exploration_ratio", self.exploration_ratio)
        positive_number("softmax_temperature", self.softmax_temperature)
        finite_number("weighted_lambda", self.weighted_lambda, low=0)
        at_least("selection_window", self.selection_window, 1)
        mix = self.selection_mix
        if not isinstance(mix, Mapping):
            raise ValueError(f"selection_mix must be a table of shares, got {mix!r}")
        if self.selection != "mix":
            if mix:
                raise ValueError(
                    f"selection_mix is only read when selection = 'mix' "
                    f"(selection is {self.selection!r}); remove it or set selection = 'mix'"
                )
            return
        allowed = ", ".join(_MIXABLE)
        if not mix:
            raise ValueError(f"selection_mix must name shares of {allowed} when selection = 'mix'")
        for name, share in mix.items():
            if name not in _MIXABLE:
                raise ValueError(f"selection_mix keys must be among {allowed}, got {name!r}")
            finite_number(f"selection_mix.{name}", share, low=0)
        if sum(mix.values()) <= 0:
            raise ValueError(f"selection_mix shares must sum to > 0, got {dict(mix)!r}")

    def _check_inspirations(self) -> None:
        at_least("num_inspirations", self.num_inspirations, 0)
        at_least("archive_inspirations", self.archive_inspirations, 0)
        if self.top_inspirations is not None:
            at_least("top_inspirations", self.top_inspirations, 0, "an integer >= 0 or unset")
        if self.num_top_inspirations + self.archive_inspirations > self.num_inspirations:
            raise ValueError(
                "top_inspirations + archive_inspirations must be <= num_inspirations "
                f"({self.num_inspirations}), got {self.num_top_inspirations} + "
                f"{self.archive_inspirations}"
            )

    def _check_features(self) -> None:
        dims = tuple(self.feature_dimensions)
        for dim in dims:
            if not isinstance(dim, FeatureDimension):
                raise ValueError(
                    f"feature_dimensions must hold FeatureDimension tables, got {dim!r}"
                )
        names = [d.name for d in dims]
        if len(set(names)) != len(names):
            raise ValueError(f"feature_dimensions must not repeat a name, got {names}")
        object.__setattr__(self, "feature_dimensions", dims)

    def _check_objectives(self) -> None:
        _one_of("objective_order", self.objective_order, get_args(ObjectiveOrder))
        metrics = [o.metric for o in self.objectives]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"objectives must not repeat a metric, got {metrics}")
        if self.uses_pareto and not (
            self.max_island_size is not None and self.max_island_size <= MAX_PARETO_ISLAND
        ):
            raise ValueError(
                f"max_island_size must be set to at most {MAX_PARETO_ISLAND} with "
                f"objective_order = 'pareto' (fronts cost O(n^2) per island), got "
                f"{self.max_island_size!r}"
            )

    @property
    def num_top_inspirations(self) -> int:
        """Inspirations taken from the island's top (half, rounded up, when unset)."""
        if self.top_inspirations is None:
            return (self.num_inspirations - self.archive_inspirations + 1) // 2
        return self.top_inspirations

    @property
    def dimensions(self) -> tuple[FeatureDimension, ...]:
        """The MAP-Elites axes (``feature_dimensions``)."""
        return self.feature_dimensions

    @property
    def island_cap(self) -> int:
        """The most islands the database may have: ``num_islands`` unless
        stagnant islands spawn new ones (then ``max_islands``, or twice
        ``num_islands`` when unset)."""
        if self.stagnation_action != "spawn" or not self.stagnation_window:
            return self.num_islands
        return self.max_islands if self.max_islands is not None else 2 * self.num_islands

    @property
    def uses_pareto(self) -> bool:
        return len(self.objectives) > 1 and self.objective_order == "pareto"


def _one_of(name: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
