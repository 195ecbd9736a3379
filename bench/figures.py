"""The pure parts of `make bench` (`bench.scorecard`): the goals, the calls the API's caps
require, verdicts, and how a figure is written beside its goal.

Calls required: `healthapi.planning.required_calls`, where the project defines them: whole
list or reconcile pages of the type's largest page size, at least one per user; one
dailyRollUp per range the type's rollup cap allows, for the daily activity summary's
types; one exportExerciseTcx per exercise (the API exports one at a time). Calls made are
counted at the simulator (`callsByDataType` of its statistics: every dataPoints request
routed, retries and 429s included).

Nothing here runs anything or reads a clock; `tests/unit/test_bench_scorecard.py` holds
these functions to literal inputs and exact outputs. Sizes are decimal: 1 GB is 10**9
bytes, 1 MB 10**6.
"""

from __future__ import annotations

from collections.abc import Mapping

from healthapi import datatypes, planning
from healthapi.elements import STREAM_RECONCILED

# The goals of issue "Speed and scale", item 6.
TODAY_CPU_PER_MILLION = 150.0  # CPU-s per million heart-rate rows, as the issue states today's
GOAL_CPU_PER_MILLION = 50.0  # at most a third of today's
GOAL_PEAK_365_BYTES = 1.5e9  # a 365-day run under 1.5 GB
# "30 vs 365 roughly flat": read here as the 365-day peak at most a quarter above the 30-day
# one. Memory that grows with rows misses it by far; start-up and caches do not.
GOAL_FLAT_RATIO = 1.25
GOAL_CALLS_RATIO = 1.05  # calls made per call the API's caps require, per data type


# The order methods are shown in; any other method follows, by name.
METHODS = (
    planning.LIST,
    planning.RECONCILE,
    planning.DAILY_ROLLUP,
    "rollUp",
    planning.EXPORT_TCX,
    "get",
)

Counts = dict[str, dict[str, int]]  # data type -> method -> calls


# --------------------------------------------------------------------------- calls


def required_calls(
    data_type: str,
    points_per_user: Mapping[str, int],
    days: int,
    stream: str = STREAM_RECONCILED,
    with_summary: bool = True,
) -> dict[str, int]:
    """`healthapi.planning.required_calls` of a backfill whose points are given per user.

    Args:
        data_type: the API's name of the type.
        points_per_user: per user, the points the stream holds in the backfill's days
            (for exercise: the exercises, each of which has its TCX exported).
        days: civil days backfilled per user.
        stream: the stream the pipeline reads (`reconciled`: the reconcile method).
        with_summary: whether the backfill includes the daily activity summary (it does
            whenever total calories are loaded).
    """
    return planning.required_calls(
        data_type, list(points_per_user.values()), days, stream, with_summary
    )


def calls_made(before: Counts, after: Counts) -> Counts:
    """The calls counted between two readings of the simulator's `callsByDataType`."""
    out: Counts = {}
    for data_type, methods in after.items():
        for method, n in methods.items():
            delta = n - before.get(data_type, {}).get(method, 0)
            if delta:
                out.setdefault(data_type, {})[method] = delta
    return out


def calls_ratio(made: int, required: int) -> float | None:
    """Calls made per call required; None when none was required."""
    if required <= 0:
        return None
    return made / required


def by_method(counts: Mapping[str, int]) -> str:
    """`{"reconcile": 90, "dailyRollUp": 3}` -> `reconcile 90 + dailyRollUp 3`, zeros left out."""
    names = [m for m in METHODS if counts.get(m)]
    names += sorted(m for m in counts if m not in METHODS and counts[m])
    return " + ".join(f"{m} {counts[m]:,}" for m in names) or "0"


def listed(data_type: str) -> bool:
    """Whether the type has points to count (all but the rollup-only total calories)."""
    return datatypes.spec(data_type).kind is not datatypes.Kind.ROLLUP_ONLY


# --------------------------------------------------------------------------- memory


def projected_peak(samples: list[tuple[float, float]], at: float) -> float | None:
    """Memory at progress `at`, by a least-squares line through (progress, bytes) samples.

    For a load stopped before its end: how much memory it would reach if it went on
    growing as it did. None with fewer than two distinct progress values.
    """
    if len({x for x, _ in samples}) < 2:
        return None
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in samples)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in samples)
    slope = sxy / sxx
    return mean_y + slope * (at - mean_x)


# --------------------------------------------------------------------------- verdicts


def verdict(value: float | None, goal: float | None, below: bool = False) -> str:
    """`meets`/`misses` the goal (at most `goal`; under it when `below`); `-` without one.

    A value of None (not measured) against a goal is `unknown`.
    """
    if goal is None:
        return "-"
    if value is None:
        return "unknown"
    ok = value < goal if below else value <= goal
    return "meets" if ok else "misses"


# --------------------------------------------------------------------------- text


def gigabytes(n_bytes: float) -> str:
    """`1234567890` -> `1.23 GB`; under a GB in MB (`456 MB`)."""
    if n_bytes >= 1e9:
        return f"{n_bytes / 1e9:.2f} GB"
    return f"{n_bytes / 1e6:.0f} MB"


def memory_text(peak_bytes: float, stopped: str | None) -> str:
    """A peak RSS; a run stopped early only gives a lower bound (`> 8.00 GB (stopped: ...)`)."""
    if stopped:
        return f"> {gigabytes(peak_bytes)} (stopped: {stopped})"
    return gigabytes(peak_bytes)


def ratio_text(ratio: float | None, lower_bound: bool = False) -> str:
    """`2.3125` -> `2.31x`; `>` in front when the figure is only a lower bound."""
    if ratio is None:
        return "n/a"
    return f"{'> ' if lower_bound else ''}{ratio:.2f}x"


def figure_line(label: str, value: str, goal: str, judged: str, width: int = 44) -> str:
    """One figure beside its goal: `label ... value   goal: ...   [meets]`."""
    return f"{label:<{width}} {value:>16}   goal {goal:<12} [{judged}]"
