"""bench.scorecard (`make bench`): its required calls, verdicts and figures, on literal
inputs; and one `--quick` run on the emulators that must measure every figure.

Nothing is timed and no goal is asserted: the speed and memory goals are checked only by
the figures `make bench` prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import calls as yardstick
from bench import figures
from bench.processes import ProcessCost
from bench.scorecard import QUICK_TYPES, Load, calls_entry, cpu_figure, memory_figure, rows_figure


def test_required_calls_of_heart_rate_3_users_90_days():
    points = {"user-1": 1_447_752, "user-2": 1_400_000, "user-3": 0}
    assert yardstick.required("heart-rate", points, 90) == {"reconcile": 145 + 140 + 1}
    assert yardstick.required("heart-rate", points, 90, stream="raw") == {"list": 286}


def test_required_calls_of_steps_add_the_summary_rollups_at_the_90_day_cap():
    points = {"user-1": 15_312, "user-2": 15_000, "user-3": 9_999}
    assert yardstick.required("steps", points, 90) == {"reconcile": 2 + 2 + 1, "dailyRollUp": 3}
    assert yardstick.required("steps", points, 91) == {"reconcile": 5, "dailyRollUp": 6}
    assert yardstick.required("steps", points, 90, with_summary=False) == {"reconcile": 5}


def test_required_calls_of_total_calories_are_rollups_at_the_14_day_cap():
    points = {"user-1": 0, "user-2": 0, "user-3": 0}
    assert yardstick.required("total-calories", points, 90) == {"dailyRollUp": 3 * 7}
    assert yardstick.required("total-calories", points, 14) == {"dailyRollUp": 3}


def test_required_calls_of_exercise_add_one_tcx_export_per_exercise():
    points = {"user-1": 22, "user-2": 26}
    assert yardstick.required("exercise", points, 90) == {
        "reconcile": 1 + 2,
        "exportExerciseTcx": 48,
    }


def test_required_calls_of_sleep_and_a_daily_type():
    assert yardstick.required("sleep", {"user-1": 101}, 90) == {"reconcile": 5}
    assert yardstick.required("daily-resting-heart-rate", {"user-1": 87}, 90) == {"reconcile": 1}


def test_calls_made_are_the_difference_of_two_readings_of_the_simulator():
    before = {"steps": {"reconcile": 4, "dailyRollUp": 1}, "sleep": {"reconcile": 2}}
    after = {
        "steps": {"reconcile": 34, "dailyRollUp": 1},
        "sleep": {"reconcile": 2},
        "exercise": {"reconcile": 3, "exportExerciseTcx": 48},
    }
    assert yardstick.made(before, after) == {
        "steps": {"reconcile": 30},
        "exercise": {"reconcile": 3, "exportExerciseTcx": 48},
    }


def test_calls_ratio_and_its_text():
    assert yardstick.ratio(360, 145) == pytest.approx(2.4827586)
    assert yardstick.ratio(3, 0) is None
    assert figures.ratio_text(2.4827586) == "2.48x"
    assert figures.ratio_text(3.2, lower_bound=True) == "> 3.20x"
    assert figures.ratio_text(None) == "n/a"


def test_by_method_keeps_a_fixed_order_and_leaves_out_zeros():
    counts = {"exportExerciseTcx": 48, "reconcile": 1_200, "dailyRollUp": 0, "other": 2}
    assert yardstick.by_method(counts) == "reconcile 1,200 + exportExerciseTcx 48 + other 2"
    assert yardstick.by_method({}) == "0"


def test_verdicts():
    assert figures.verdict(50.0, 50.0) == "meets"
    assert figures.verdict(50.1, 50.0) == "misses"
    assert figures.verdict(1.5e9, 1.5e9, below=True) == "misses"
    assert figures.verdict(None, 50.0) == "unknown"
    assert figures.verdict(3.0, None) == "-"


def test_sizes_are_decimal_and_a_stopped_run_is_a_lower_bound():
    assert figures.gigabytes(1_234_567_890) == "1.23 GB"
    assert figures.gigabytes(456_000_000) == "456 MB"
    assert figures.memory_text(8_012_000_000, None) == "8.01 GB"
    assert figures.memory_text(8_012_000_000, "memory ceiling") == (
        "> 8.01 GB (stopped: memory ceiling)"
    )


def test_figure_line_puts_the_value_beside_its_goal():
    line = figures.figure_line("1. CPU", "132.4 CPU-s", "<= 50", "misses", width=8)
    assert line == "1. CPU        132.4 CPU-s   goal <= 50        [misses]"


# --------------------------------------------------------------------------- the figures


def cost(peak: int, stopped: str | None = None, timeline=()) -> ProcessCost:
    return ProcessCost(
        exit_code=-9 if stopped else 0,
        stopped=stopped,
        wall_seconds=100.0,
        cpu_user=10.0,
        cpu_system=0.5,
        peak_rss_bytes=peak,
        samples=500,
        timeline=list(timeline),
    )


def load(days, peak, stopped=None, calls_made=None, timeline=()) -> Load:
    result = None
    if not stopped:
        result = {
            "report": {"state": "DONE", "rows": {"heart_rate": 600_000, "steps": 1_000}},
            "run_wall_seconds": 200.0,
            "run_cpu_user": 80.0,
            "run_cpu_system": 10.0,
        }
    return Load(
        name="X",
        users=["user-1"],
        days=days,
        data_types=("heart-rate", "steps"),
        cost=cost(peak, stopped, timeline),
        result=result,
        calls=calls_made or {},
        simulator_cpu=40.0,
        emulator_cpu=20.0,
        log=Path("/dev/null"),
    )


def test_cpu_figure_is_run_cpu_per_million_heart_rate_rows():
    figure = cpu_figure(load(14, 900_000_000))
    assert figure["value"] == 150.0  # 90 CPU-s / 600,000 rows
    assert figure["verdict"] == "misses"
    assert figure["heart_rate_rows"] == 600_000
    assert figure["process_cpu_s"] == 10.5
    assert figure["simulator_cpu_per_million"] == 66.7


def test_rows_figure_counts_every_table_over_the_wall_time_of_run():
    figure = rows_figure(load(14, 900_000_000))
    assert (figure["value"], figure["rows"], figure["goal"]) == (3005, 601_000, None)


def test_memory_figure_of_a_long_load_stopped_at_the_ceiling():
    timeline = [
        (0.0, 300_000_000, 0.0),
        (5.0, 1_500_000_000, 50.0),  # start-up: left out of the projection
        (10.0, 2_000_000_000, 100.0),
        (15.0, 4_000_000_000, 200.0),
    ]
    figure = memory_figure(
        load(30, 2_000_000_000),
        load(
            365,
            8_100_000_000,
            "memory ceiling",
            calls_made={"heart-rate": {"reconcile": 300}, "steps": {"reconcile": 10}},
            timeline=timeline,
        ),
        hr_pages_required=600,
    )
    assert figure["verdict_long"] == "misses"
    assert (figure["ratio"], figure["ratio_is_lower_bound"]) == (4.05, True)
    assert (figure["growth_bytes_per_row"], figure["verdict_growth"]) == (None, "unknown")
    long = figure["long"]
    assert (long["heart_rate_pages_served"], long["heart_rate_pages_required"]) == (300, 600)
    assert long["projected_peak_bytes"] == 12_000_000_000  # 20 MB a page, from 0 at page 0
    assert long["timeline"][2] == [10.0, 2_000_000_000, 100.0]


def test_memory_figure_of_a_flat_load():
    timeline = [
        (0.0, 300_000_000, 0.0),
        (5.0, 1_000_000_000, 20.0),  # start-up: left out of the growth
        (10.0, 1_090_000_000, 50.0),
        (15.0, 1_100_000_000, 100.0),  # 200 kB a page over the second half
    ]
    calls = {"heart-rate": {"reconcile": 100}}
    long = load(365, 1_100_000_000, calls_made=calls, timeline=timeline)
    figure = memory_figure(load(30, 1_000_000_000), long)
    assert (figure["verdict_long"], figure["ratio"]) == ("meets", 1.1)
    # 100 pages of the load's 601,000 rows: 200,000 B a page is 33.3 B a row.
    assert (figure["growth_bytes_per_row"], figure["verdict_growth"]) == (33.3, "meets")


def test_memory_that_grows_with_rows_misses_the_growth_goal():
    timeline = [(5.0, 1_000_000_000, 50.0), (10.0, 1_600_000_000, 100.0)]
    long = load(
        365, 1_600_000_000, calls_made={"heart-rate": {"reconcile": 100}}, timeline=timeline
    )
    figure = memory_figure(load(30, 1_000_000_000), long)
    # 12 MB a page, 6,010 rows a page: 1,996.7 B a row.
    assert (figure["growth_bytes_per_row"], figure["verdict_growth"]) == (1996.7, "misses")
    assert figure["verdict_long"] == "misses"


def test_a_long_load_stopped_under_the_goal_is_unknown_not_met():
    figure = memory_figure(load(30, 1_000_000_000), load(365, 1_100_000_000, "time limit"))
    assert (figure["verdict_long"], figure["verdict_growth"]) == ("unknown", "unknown")


def test_projected_peak_is_a_least_squares_line():
    samples = [(1.0, 10.0), (2.0, 21.0), (3.0, 29.0)]
    assert figures.projected_peak(samples, 10.0) == pytest.approx(96.0)  # 20 + 9.5 x 8
    assert figures.projected_peak([(1.0, 10.0), (1.0, 12.0)], 10.0) is None


def test_calls_entry_of_a_load():
    made = {"steps": {"reconcile": 30, "dailyRollUp": 1}}
    entry = calls_entry(load(90, 1), "steps", {"user-1": 15_312}, with_summary=True)
    assert entry["required"] == {"reconcile": 2, "dailyRollUp": 1}
    assert (entry["made"], entry["ratio"], entry["verdict"]) == ({}, 0.0, "meets")
    entry = calls_entry(
        load(90, 1, calls_made=made), "steps", {"user-1": 15_312}, with_summary=True
    )
    assert (entry["ratio"], entry["verdict"], entry["points"]) == (10.333, "misses", 15_312)
    stopped = load(90, 1, "time limit", calls_made=made)
    assert calls_entry(stopped, "steps", {"user-1": 15_312}, True)["verdict"] == "unknown"


# --------------------------------------------------------------------------- a quick run


@pytest.mark.emulators
@pytest.mark.slow
def test_a_quick_bench_measures_every_figure(tmp_path):
    """`--quick` end to end, in a process of its own (it points Google's clients at its
    emulators): every load runs, and load A loads exactly the heart rate the simulator holds.
    """
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "bench.scorecard", "--quick", "--json-only"]
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [*command, "--state_dir", str(tmp_path)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = out["cpu_per_million_heart_rate_rows"]
    assert cpu["value"] > 0
    assert cpu["heart_rate_rows"] == out["calls"]["per_type"]["heart-rate"]["points"] > 0
    assert out["rows_per_second"]["value"] > 0
    memory = out["peak_memory"]
    assert memory["short"]["finished"] is True
    assert memory["long"]["finished"] or memory["long"]["stopped"] == "time limit"
    assert memory["short"]["peak_rss_bytes"] > 100e6
    per_type = out["calls"]["per_type"]
    assert sorted(per_type) == sorted(QUICK_TYPES)
    assert all(
        e["ratio"] is not None and e["verdict"] in ("meets", "misses") for e in per_type.values()
    )
    assert per_type["exercise"]["required"]["exportExerciseTcx"] == per_type["exercise"]["points"]
