"""The pure parts of `make bench` (`bench.scorecard`): the goals, verdicts, a projection of
memory, and how a figure is written beside its goal. The calls figure's yardstick (calls
required, calls made) is `bench.calls`'s.

Nothing here runs anything or reads a clock; `tests/unit/test_bench_scorecard.py` holds
these functions to literal inputs and exact outputs. Sizes are decimal: 1 GB is 10**9
bytes, 1 MB 10**6.
"""

from __future__ import annotations

# The goals of issue "Speed and scale", item 6.
TODAY_CPU_PER_MILLION = 150.0  # CPU-s per million heart-rate rows, as the issue states today's
GOAL_CPU_PER_MILLION = 50.0  # at most a third of today's
GOAL_PEAK_365_BYTES = 1.5e9  # a 365-day run under 1.5 GB
# "Does not grow with the number of rows": over the second half of the 365-day load, memory
# grows at most 1% of the 4.1 KB a row the issue measured. The 365-day peak over the
# 30-day one is printed too, without a goal: buffers of a fixed size (a 16 MB upload
# buffer per table file being written) fill sooner in a longer load, and stay full.
GOAL_GROWTH_BYTES_PER_ROW = 41.0
GOAL_CALLS_RATIO = 1.05  # calls made per call the API's caps require, per data type


# --------------------------------------------------------------------------- memory


def _line(samples: list[tuple[float, float]]) -> tuple[float, float, float] | None:
    """(mean x, mean y, slope) of the least-squares line; None below two distinct x."""
    if len({x for x, _ in samples}) < 2:
        return None
    n = len(samples)
    mean_x = sum(x for x, _ in samples) / n
    mean_y = sum(y for _, y in samples) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in samples)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in samples)
    return mean_x, mean_y, sxy / sxx


def projected_peak(samples: list[tuple[float, float]], at: float) -> float | None:
    """Memory at progress `at`, by a least-squares line through (progress, bytes) samples.

    For a load stopped before its end: how much memory it would reach if it went on
    growing as it did. None with fewer than two distinct progress values.
    """
    line = _line(samples)
    if line is None:
        return None
    mean_x, mean_y, slope = line
    return mean_y + slope * (at - mean_x)


def second_half(timeline: list[tuple[float, float, float | None]]) -> list[tuple[float, float]]:
    """(progress, bytes) samples of a load's second half of progress: start-up's climb
    says nothing of growth."""
    samples = [(pages, rss) for _, rss, pages in timeline if pages]
    half = max((pages for pages, _ in samples), default=0) / 2
    return [(pages, rss) for pages, rss in samples if pages >= half]


def growth_per_row(samples: list[tuple[float, float]], rows: int, pages: float) -> float | None:
    """Bytes of memory each row adds: the slope through (pages, bytes) samples, in bytes
    per page, over the load's rows per page. None without a slope or without rows."""
    line = _line(samples)
    if line is None or not rows or not pages:
        return None
    return line[2] * pages / rows


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
