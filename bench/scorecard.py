"""`make bench`: where fitbeam stands against the goals of "Speed and scale" (item 6).

One run on one machine prints four figures, each beside its goal, then one JSON line.
Four loads (`fitbeam run` into the BigQuery emulator, file loads through the GCS
emulator) make them:

1. CPU seconds of the pipeline per million heart-rate rows. Goal: at most 50, a third of
   the issue's "about 150 today". Load A: heart rate of 3 users x 14 days (the demo's
   size): fetch, rows, validation, BigQuery JSON, temp files. The figure is the CPU time
   of `pipeline.main.run` in the pipeline's process (interpreter start-up and imports
   left out; the whole process's CPU is printed beside it).
2. Peak memory of a batch load of one user x every data type over 30 days (load C) and
   365 days (load D): the resident memory of the pipeline's process and its descendants,
   sampled five times a second, or the kernel's high-water mark of any one of them if
   higher. Goal: 365 days under 1.5 GB, and memory that does not grow with rows: over
   the second half of the 365-day load's heart-rate pages, at most 41 bytes a row (1% of
   the 4.1 KB a row the issue measured). The 365-day peak over the 30-day one is printed
   without a goal: fixed-size buffers (16 MB per table file being uploaded) fill sooner
   in a longer load. A load
   is stopped (its process group killed) above `--ceiling_gb` of memory (8) or past its
   time limit (load D: `--memory_time_limit`, 1500 s); its figure is then a lower bound,
   printed `> ... (stopped: ...)`, with the share of its heart-rate pages the simulator
   had served and the peak a straight line through the samples of the second half of its
   progress projects for the whole load. At 5 s heart-rate samples, 365 days is about 5.9
   million rows: about 300 CPU-seconds of the pipeline at commit 556f60f (515 s alone on
   2 idle cores). It runs beside loads B and C, against a simulator of its own.
3. API calls made against the calls the API's caps require (`bench.calls`), per data
   type, for a backfill of 3 users x 90 days of every data type (load B), counted at the
   simulator. Goal: at most 1.05x per type. Heart rate is capped: 90 days of 3 users is
   4.3 million rows, about 4 CPU-minutes, so load B leaves it out and its line
   counts load A's calls (3 users x 14 days) against load A's requirement;
   `--calls_heart_rate` puts it back into load B.
4. Rows per second end to end: load A's rows over the wall time of `pipeline.main.run`,
   load jobs into the BigQuery emulator included. No goal is set for it.

What is not the pipeline is kept out of its figures: the simulator runs in a process of
its own (`simulator.process.SimulatorProcess`; its CPU is printed apart), the BigQuery and
GCS emulators are processes of their own (`localdev.emulators`), and each load runs in a
fresh process (`bench.pipeline_process`) whose CPU and memory are measured from outside
(`bench.processes.run_measured`). Load A runs alone; B and C then run one after the other
while D runs beside them. The simulators' clocks start at noon UTC on 2026-11-28 and run
at real speed; every load ends the day before.

Wall-clock figures follow whatever else the machine is doing; the load average at the
start and the end is printed with them. CPU time and memory depend much less on it.

Run from the repository root::

    make bench                     # the full run: 861 s on 2 cores at load average 7 to 10
    make bench BENCH_ARGS=--quick  # small sizes: 3 to 7 minutes
    .venv/bin/python -m bench.scorecard --help

The last line printed is one JSON object of every figure and goal; `--json-only` prints
only that. The exit status is 0 when every load ran or was stopped by the bench (goals met
or not), 1 when a load failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime as dt
import importlib.metadata
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench import calls as yardstick
from bench import figures
from bench.args import positive_float
from bench.processes import ProcessCost, cpu_seconds_of, process_tree, run_measured
from healthapi import datatypes
from healthapi.auth.file_store import LocalFileTokenStore
from localdev import emulators
from localdev.demo import authorise_users, emulator_bigquery_client
from simulator import Simulator, SimulatorConfig
from simulator.process import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]
# The simulator's clock starts at noon UTC on this day; loads end the day before, complete
# in every time zone.
START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
TODAY = START.date()
LAST_DAY = TODAY - dt.timedelta(days=1)
HEART_RATE = "heart-rate"
ALL_TYPES = tuple(datatypes.DEFAULT_DATA_TYPES)
USERS = ("user-1", "user-2", "user-3")


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How big each load is; `FULL` is `make bench`, `QUICK` is `--quick`."""

    cpu_users: int  # load A: heart rate
    cpu_days: int
    calls_users: int  # load B: every type (heart rate only with --calls_heart_rate)
    calls_days: int
    memory_days: tuple[int, int]  # loads C and D: one user, every type
    memory_time_limit: float  # seconds, load D
    time_limit: float  # seconds, loads A to C: a guard, not a cap
    data_types: tuple[str, ...] = ALL_TYPES  # loads B to D


# Load D alone took 515 s on 2 idle cores at commit 556f60f; beside loads B and C, longer.
FULL = Sizes(3, 14, 3, 90, (30, 365), memory_time_limit=1500, time_limit=1800)
# Quick: one type of each kind and shape (interval, sample, daily, session, rollup, raw-only
# with a waveform), so a try of the bench is minutes, not the dozens of tables' load jobs.
QUICK_TYPES = (
    "steps",
    "heart-rate",
    "daily-resting-heart-rate",
    "sleep",
    "exercise",
    "weight",
    "total-calories",
    "electrocardiogram",
)
QUICK = Sizes(1, 1, 1, 7, (1, 3), memory_time_limit=300, time_limit=600, data_types=QUICK_TYPES)


@dataclasses.dataclass
class Load:
    """One measured `fitbeam run` and what its simulator saw of it."""

    name: str
    users: list[str]
    days: int
    data_types: tuple[str, ...]
    cost: ProcessCost
    result: dict | None  # what bench.pipeline_process wrote; None if it did not finish
    calls: yardstick.Counts  # data type -> method -> calls, counted at the simulator
    simulator_cpu: float
    emulator_cpu: float  # the emulators' CPU while the load ran (shared if loads overlap)
    log: Path

    @property
    def first_day(self) -> dt.date:
        return LAST_DAY - dt.timedelta(days=self.days - 1)

    @property
    def rows(self) -> dict[str, int]:
        return (self.result or {}).get("report", {}).get("rows", {})

    @property
    def finished(self) -> bool:
        return self.result is not None and self.result["report"]["state"] == "DONE"

    def describe(self) -> str:
        if set(self.data_types) == set(ALL_TYPES):
            types = "every data type"
        elif len(self.data_types) < 3:
            types = ",".join(self.data_types)
        else:
            types = f"{len(self.data_types)} data types"
        return f"{_plural(len(self.users), 'user')} x {_plural(self.days, 'day')}, {types}"


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class Bench:
    """A simulator, the emulators and a token store, shared by the loads run on them."""

    def __init__(
        self,
        sim: SimulatorProcess,
        emu: emulators.LocalEmulators,
        state: Path,
        ceiling: float,
        say: Callable[[str], None],
        cancel: threading.Event,
        tree: Path = ROOT,
    ):
        self.tree = tree
        self.sim = sim
        self.cancel = cancel
        self.env = emu.env
        self.emulator_pids = [p.pid for p in emu.processes.values()]
        self.state = state
        self.ceiling = ceiling
        self.say = say
        self.tokens = LocalFileTokenStore(state / f"tokens-{sim.pid}")
        self.tag = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
        authorise_users(sim, list(USERS), self.tokens)

    def emulator_cpu(self) -> float:
        """CPU seconds the emulators' processes have used so far."""
        return sum(cpu_seconds_of(process_tree(pid)) for pid in self.emulator_pids)

    def calls(self) -> yardstick.Counts:
        """dataPoints calls this bench's simulator has routed: data type -> method -> count."""
        return self.sim.stats()["callsByDataType"]

    def simulator_cpu(self) -> float:
        """CPU seconds this bench's simulator process has used so far."""
        return cpu_seconds_of([self.sim.pid])

    def hr_pages(self) -> float:
        """Heart-rate pages this bench's simulator has served so far."""
        return float(sum(self.calls().get(HEART_RATE, {}).values()))

    def load(
        self,
        name: str,
        users: list[str],
        days: int,
        data_types: tuple[str, ...],
        limit: float,
        watch: bool = False,
    ) -> Load:
        """Runs one `fitbeam run` in a measured process of its own."""
        dataset = f"bench_{name.lower()}_{self.tag}"
        emulator_bigquery_client().create_dataset(f"{emulators.PROJECT}.{dataset}")
        first = LAST_DAY - dt.timedelta(days=days - 1)
        result_path = self.state / f"load-{name}.json"
        spec = {
            "today": TODAY.isoformat(),
            "result": str(result_path),
            "argv": [
                f"--users={','.join(users)}",
                f"--start_date={first}",
                f"--end_date={LAST_DAY}",
                f"--data_types={','.join(data_types)}",
                f"--api_base_url={self.sim.base_url}",
                f"--token_store={self.tokens.root}",
                f"--dataset={emulators.PROJECT}:{dataset}",
                f"--run_id=bench-{name.lower()}-{self.tag}",
                f"--dead_letter_root=gs://{emulators.DEFAULT_BUCKET}/bench-dead-letters",
                f"--temp_location=gs://{emulators.DEFAULT_BUCKET}/bench-loads",
                f"--project={emulators.PROJECT}",
            ],
        }
        spec_path = self.state / f"load-{name}-spec.json"
        spec_path.write_text(json.dumps(spec))
        log = self.state / f"load-{name}.log"
        calls_before, sim_cpu_before = self.calls(), self.simulator_cpu()
        emulator_cpu_before = self.emulator_cpu()
        self.say(
            f"  load {name}: {_plural(len(users), 'user')} x {_plural(days, 'day')}, "
            f"{_plural(len(data_types), 'data type')}"
        )
        cost = run_measured(
            # The script by path, so that its imports (pipeline, localdev) come from the
            # tree measured, which need not have this script.
            [sys.executable, str(ROOT / "bench" / "pipeline_process.py"), str(spec_path)],
            env={**os.environ, **self.env, "PYTHONPATH": str(self.tree)},
            cwd=str(self.tree),
            log_path=log,
            ceiling_bytes=self.ceiling,
            time_limit=limit,
            watch=self.hr_pages if watch else None,
            cancel=self.cancel,
        )
        load = Load(
            name=name,
            users=users,
            days=days,
            data_types=data_types,
            cost=cost,
            result=json.loads(result_path.read_text()) if result_path.exists() else None,
            calls=yardstick.made(calls_before, self.calls()),
            simulator_cpu=self.simulator_cpu() - sim_cpu_before,
            emulator_cpu=self.emulator_cpu() - emulator_cpu_before,
            log=log,
        )
        if load.finished:
            outcome = "done"
        elif cost.stopped:
            outcome = f"stopped ({cost.stopped})"
        else:
            outcome = f"FAILED (exit {cost.exit_code}; see {log})"
        self.say(
            f"  load {name}: {outcome} in {cost.wall_seconds:.0f} s, "
            f"{sum(load.rows.values()):,} rows, {cost.cpu_seconds:.1f} CPU-s, peak "
            f"{figures.gigabytes(cost.peak_rss_bytes)}; beside it the simulator used "
            f"{load.simulator_cpu:.1f} CPU-s, the emulators {load.emulator_cpu:.1f}"
        )
        return load


# --------------------------------------------------------------------------- figures


def cpu_figure(load: Load) -> dict:
    """Figure 1: `run()`'s CPU per million heart-rate rows of a heart-rate load."""
    rows = load.rows.get(datatypes.spec(HEART_RATE).table, 0)
    run_cpu = user = system = None
    if load.result:
        user, system = load.result["run_cpu_user"], load.result["run_cpu_system"]
        run_cpu = user + system
    value = run_cpu / rows * 1e6 if run_cpu is not None and rows else None
    return {
        "value": None if value is None else round(value, 1),
        "goal_at_most": figures.GOAL_CPU_PER_MILLION,
        "today_per_issue": figures.TODAY_CPU_PER_MILLION,
        "verdict": figures.verdict(value, figures.GOAL_CPU_PER_MILLION),
        "heart_rate_rows": rows,
        "run_cpu_s": None if run_cpu is None else round(run_cpu, 2),
        "run_cpu_user_s": None if user is None else round(user, 2),
        "run_cpu_system_s": None if system is None else round(system, 2),
        "process_cpu_s": round(load.cost.cpu_seconds, 2),
        "simulator_cpu_s": round(load.simulator_cpu, 2),
        "simulator_cpu_per_million": round(load.simulator_cpu / rows * 1e6, 1) if rows else None,
        "emulators_cpu_s": round(load.emulator_cpu, 2),
        "peak_rss_bytes": load.cost.peak_rss_bytes,
        "users": len(load.users),
        "days": load.days,
    }


def rows_figure(load: Load) -> dict:
    """Figure 4: every row loaded over the wall time of `run()`."""
    rows = sum(load.rows.values())
    wall = load.result["run_wall_seconds"] if load.result else None
    return {
        "value": round(rows / wall) if wall and rows else None,
        "goal": None,
        "rows": rows,
        "run_wall_s": None if wall is None else round(wall, 1),
        "process_wall_s": round(load.cost.wall_seconds, 1),
    }


def memory_entry(load: Load, hr_pages_required: int | None = None) -> dict:
    """One load's peak memory, and for a stopped load how far it got."""
    entry = {
        "days": load.days,
        "peak_rss_bytes": load.cost.peak_rss_bytes,
        "stopped": load.cost.stopped,
        "finished": load.finished,
        "wall_s": round(load.cost.wall_seconds, 1),
        "rows": sum(load.rows.values()),
        "memory_samples": load.cost.samples,
    }
    if load.cost.timeline and load.cost.timeline[0][2] is not None:
        entry["timeline"] = [[t, rss, pages] for t, rss, pages in load.cost.timeline]
    served = sum(load.calls.get(HEART_RATE, {}).values())
    samples = figures.second_half(load.cost.timeline) if load.cost.timeline else []
    if load.finished and samples:
        growth = figures.growth_per_row(samples, entry["rows"], served)
        entry["growth_bytes_per_row"] = None if growth is None else round(growth, 1)
    if not load.finished and hr_pages_required:
        entry["heart_rate_pages_served"] = served
        entry["heart_rate_pages_required"] = hr_pages_required
        projected = figures.projected_peak(samples, hr_pages_required)
        entry["projected_peak_bytes"] = None if projected is None else round(projected)
    return entry


def memory_figure(small: Load, large: Load, hr_pages_required: int | None = None) -> dict:
    """Figure 2: the peaks of the short and the long load, and how they compare."""
    large_peak, small_peak = large.cost.peak_rss_bytes, small.cost.peak_rss_bytes
    goal = figures.GOAL_PEAK_365_BYTES
    # A stopped load's peak is a lower bound: it can only show that a goal is missed.
    if large.finished:
        verdict_large = figures.verdict(large_peak, goal, below=True)
    else:
        verdict_large = "misses" if large_peak >= goal else "unknown"
    ratio = large_peak / small_peak if small.finished and small_peak else None
    long = memory_entry(large, hr_pages_required)
    growth = long.get("growth_bytes_per_row")
    return {
        "short": memory_entry(small),
        "long": long,
        "goal_long_under_bytes": goal,
        "verdict_long": verdict_large,
        "ratio": None if ratio is None else round(ratio, 3),
        "ratio_is_lower_bound": not large.finished,
        "growth_bytes_per_row": growth,
        "goal_growth_bytes_per_row_at_most": figures.GOAL_GROWTH_BYTES_PER_ROW,
        "verdict_growth": figures.verdict(growth, figures.GOAL_GROWTH_BYTES_PER_ROW),
    }


def calls_entry(
    load: Load, data_type: str, points_per_user: dict[str, int], with_summary: bool
) -> dict:
    """Figure 3, one data type: calls made in `load` against those required."""
    made = load.calls.get(data_type, {})
    required = yardstick.required(data_type, points_per_user, load.days, with_summary=with_summary)
    ratio = yardstick.ratio(sum(made.values()), sum(required.values()))
    return {
        "load": load.name,
        "users": len(load.users),
        "days": load.days,
        "points": sum(points_per_user.values()),
        "made": made,
        "required": required,
        "ratio": None if ratio is None else round(ratio, 3),
        "verdict": figures.verdict(ratio if load.finished else None, figures.GOAL_CALLS_RATIO),
    }


# --------------------------------------------------------------------------- printing


def print_figures(say: Callable[[str], None], out: dict, loads: dict[str, Load]) -> None:
    cpu, memory = out["cpu_per_million_heart_rate_rows"], out["peak_memory"]
    calls, rows = out["calls"], out["rows_per_second"]
    say("")
    value = "not measured" if cpu["value"] is None else f"{cpu['value']:.1f} CPU-s"
    say(
        figures.figure_line(
            "1. pipeline CPU per million heart-rate rows",
            value,
            f"<= {figures.GOAL_CPU_PER_MILLION:g}",
            cpu["verdict"],
        )
    )
    say(
        f"   load A ({loads['A'].describe()}): {cpu['heart_rate_rows']:,} rows; run() "
        f"{cpu['run_cpu_s']} CPU-s (user {cpu['run_cpu_user_s']}, system "
        f"{cpu['run_cpu_system_s']}), the whole process {cpu['process_cpu_s']}"
    )
    say(
        f"   not counted: the simulator {cpu['simulator_cpu_s']} CPU-s "
        f"({cpu['simulator_cpu_per_million']} per million rows), the emulators "
        f"{cpu['emulators_cpu_s']}; the issue puts today at about "
        f"{figures.TODAY_CPU_PER_MILLION:g}"
    )
    say("")
    say("2. peak memory of the pipeline process and its children, one user x every data type")
    for key, load in (("short", loads["C"]), ("long", loads["D"])):
        entry = memory[key]
        goal, judged = "-", "-"
        if key == "long":
            goal = f"< {figures.gigabytes(figures.GOAL_PEAK_365_BYTES)}"
            judged = memory["verdict_long"]
        label = f"   {_plural(load.days, 'day')} (load {load.name})"
        value = figures.memory_text(load.cost.peak_rss_bytes, None)
        say(figures.figure_line(label, ("> " if not load.finished else "") + value, goal, judged))
        if load.finished:
            say(f"      {entry['rows']:,} rows in {entry['wall_s']} s")
        elif load.cost.stopped:
            line = f"      stopped ({load.cost.stopped}) after {entry['wall_s']} s"
            if entry.get("heart_rate_pages_required"):
                served, required = (
                    entry["heart_rate_pages_served"],
                    entry["heart_rate_pages_required"],
                )
                line += (
                    f", when the simulator had served {served:,} of the {required:,} "
                    f"heart-rate pages required ({served / required:.0%})"
                )
                if entry.get("projected_peak_bytes"):
                    line += (
                        "; growing as it did, it would peak at about "
                        f"{figures.gigabytes(entry['projected_peak_bytes'])}"
                    )
            say(line)
        else:
            say(f"      FAILED (exit {load.cost.exit_code}): see {load.log}")
    growth = memory["growth_bytes_per_row"]
    say(
        figures.figure_line(
            f"   growth, second half of load {loads['D'].name}",
            "not measured" if growth is None else f"{growth:,.1f} B/row",
            f"<= {figures.GOAL_GROWTH_BYTES_PER_ROW:g} B/row",
            memory["verdict_growth"],
        )
    )
    say(
        figures.figure_line(
            f"   {_plural(loads['D'].days, 'day')} / {_plural(loads['C'].days, 'day')}",
            figures.ratio_text(memory["ratio"], memory["ratio_is_lower_bound"]),
            "-",
            "-",
        )
    )
    say("")
    say(
        f"3. API calls made / required by the API's caps, load B ({loads['B'].describe()}); "
        f"goal <= {figures.GOAL_CALLS_RATIO:g}x per type"
    )
    table = [("data type", "calls made", "required", "ratio", "")]
    for data_type, entry in calls["per_type"].items():
        name = data_type
        if entry["load"] != "B":
            name += f" (load {entry['load']}: {entry['users']} x {_plural(entry['days'], 'day')})"
        table.append(
            (
                name,
                yardstick.by_method(entry["made"]),
                yardstick.by_method(entry["required"]),
                figures.ratio_text(entry["ratio"]),
                f"[{entry['verdict']}]",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        say("   " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    say("")
    value = "not measured" if rows["value"] is None else f"{rows['value']:,} rows/s"
    say(figures.figure_line("4. rows per second end to end (load A)", value, "none set", "-"))
    if rows["value"] is not None:
        say(
            f"   {rows['rows']:,} rows in {rows['run_wall_s']} s of run(), load jobs into the "
            f"BigQuery emulator included ({rows['process_wall_s']} s with start-up)"
        )


# --------------------------------------------------------------------------- the command


def _git(root: Path, *args: str) -> str:
    cmd = ["git", "-C", str(root), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603


def source_commit(override: str | None, root: Path = ROOT) -> dict:
    """The commit measured (the pipeline's tree), and whether tracked files differ from it."""
    if override:
        return {"commit": override, "tree": "exported from the commit (not a git checkout)"}
    try:
        commit = _git(root, "rev-parse", "HEAD").strip()
        changed = _git(root, "status", "--porcelain", "--untracked-files=no").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return {"commit": "unknown", "tree": "not a git checkout; pass --source_commit"}
    changed = [line[3:] for line in changed if line.strip()]
    if not changed:
        return {"commit": commit, "tree": "clean"}
    shown = ", ".join(changed[:6]) + (" ..." if len(changed) > 6 else "")
    return {"commit": commit, "tree": f"{len(changed)} tracked files changed: {shown}"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scorecard",
        description="fitbeam's speed and scale figures beside their goals (make bench).",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument(
        "--ceiling_gb",
        type=positive_float,
        default=8.0,
        help="stop a load whose memory passes this many GB (default 8)",
    )
    parser.add_argument(
        "--memory_time_limit",
        type=positive_float,
        default=None,
        help="seconds the long memory load may run before it is stopped "
        f"(default {FULL.memory_time_limit:g}; {QUICK.memory_time_limit:g} with --quick)",
    )
    parser.add_argument(
        "--calls_heart_rate",
        action="store_true",
        help="count heart rate in load B (3 users x 90 days) too: about 15 minutes more",
    )
    parser.add_argument(
        "--source_commit",
        default=None,
        help="the commit measured, when the tree is not a git checkout (e.g. git archive)",
    )
    parser.add_argument(
        "--pipeline_tree",
        type=Path,
        default=None,
        help="measure the pipeline of another checkout (e.g. a git worktree of an older "
        "commit) with this bench, simulator and emulators; its commit is the one reported",
    )
    parser.add_argument(
        "--state_dir", default=None, help="logs and emulator data (default: a temporary dir)"
    )
    parser.add_argument("--json-only", action="store_true", help="print only the JSON line")
    return parser.parse_args(argv)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


CONFIG = SimulatorConfig(users=len(USERS), start_time=START.timestamp())


def held_points(truth: Simulator, user_id: str, data_type: str, first: dt.date) -> int:
    """Points `user_id` holds from `first` to `LAST_DAY` in the reconciled stream.

    As many as `Simulator.ground_truth(..., reconciled=True)` returns, counted without
    rendering them. `truth` is a simulator of the same config as the loads' (its data
    depends only on the config), never started.
    """
    if not yardstick.listed(data_type):
        return 0
    store = truth.store
    user = store.users[user_id]
    days = (LAST_DAY - first).days + 1
    return sum(
        len(store.reconcile(store.day_points(user, data_type, first + dt.timedelta(days=i))))
        for i in range(days)
    )


def measure(args: argparse.Namespace, state: Path, say: Callable[[str], None]) -> int:
    sizes = QUICK if args.quick else FULL
    memory_limit = args.memory_time_limit or sizes.memory_time_limit
    started = time.monotonic()
    load_start = os.getloadavg()
    tree = (args.pipeline_tree or ROOT).resolve()
    source = source_commit(args.source_commit, tree)
    beam_version = importlib.metadata.version("apache-beam")
    say(
        f"fitbeam bench ({'quick' if args.quick else 'full'}), commit {source['commit']} "
        f"(tree: {source['tree']}), {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    bench_source = source if tree == ROOT else source_commit(None, ROOT)
    if tree != ROOT:
        say(
            f"the pipeline of {tree}; this bench, its simulator and emulators at commit "
            f"{bench_source['commit']} (tree: {bench_source['tree']})"
        )
    say(
        f"{_cpu_count()} CPUs, Python {platform.python_version()}, Beam {beam_version}; "
        f"load average (1, 5, 15 min) at the start: " + " ".join(f"{x:.2f}" for x in load_start)
    )
    if args.quick:
        say("quick: small sizes, to try the bench; the goals are set for the full sizes")
    every = sizes.data_types
    non_hr = tuple(t for t in every if t != HEART_RATE)
    b_types = every if args.calls_heart_rate else non_hr
    users = list(USERS)
    ceiling = args.ceiling_gb * 1e9
    limit = sizes.time_limit
    cancel = threading.Event()
    say("starting two simulators and the BigQuery and GCS emulators, each a process of its own")
    with (
        emulators.LocalEmulators(state / "emulators") as emu,
        SimulatorProcess(CONFIG) as sim,
        SimulatorProcess(CONFIG) as sim_d,
        concurrent.futures.ThreadPoolExecutor(1) as beside,
    ):
        emulators.use_emulator_endpoints(emu.env)
        bench = Bench(sim, emu, state, ceiling, say, cancel, tree)
        bench_d = Bench(sim_d, emu, state, ceiling, say, cancel, tree)
        try:
            a = bench.load("A", users[: sizes.cpu_users], sizes.cpu_days, (HEART_RATE,), limit)
            d_future = beside.submit(
                bench_d.load, "D", users[:1], sizes.memory_days[1], every, memory_limit, True
            )
            b = bench.load("B", users[: sizes.calls_users], sizes.calls_days, b_types, limit)
            c = bench.load("C", users[:1], sizes.memory_days[0], every, limit)
            d = d_future.result()
        except BaseException:  # Ctrl-C included: stop the load running beside
            cancel.set()
            raise
        loads = {"A": a, "B": b, "C": c, "D": d}
        say("counting the simulator's points for the requirements")
        truth = Simulator(CONFIG)
        per_type = {}
        calls_from = [(b, b_types)] + ([] if args.calls_heart_rate else [(a, (HEART_RATE,))])
        for load, types in calls_from:
            for data_type in types:
                points = {u: held_points(truth, u, data_type, load.first_day) for u in load.users}
                per_type[data_type] = calls_entry(
                    load, data_type, points, with_summary="total-calories" in load.data_types
                )
        hr_points_d = {u: held_points(truth, u, HEART_RATE, d.first_day) for u in d.users}
        hr_pages_d = sum(yardstick.required(HEART_RATE, hr_points_d, d.days).values())
        simulator_cpu = bench.simulator_cpu() + bench_d.simulator_cpu()
        emulator_cpu = bench.emulator_cpu()
    out = {
        "mode": "quick" if args.quick else "full",
        **source,
        "bench_commit": bench_source["commit"],
        "cpus": _cpu_count(),
        "python": platform.python_version(),
        "beam": beam_version,
        "load_average_start": [round(x, 2) for x in load_start],
        "cpu_per_million_heart_rate_rows": cpu_figure(a),
        "peak_memory": memory_figure(c, d, hr_pages_d),
        "calls": {
            "goal_ratio_at_most": figures.GOAL_CALLS_RATIO,
            "per_type": {t: per_type[t] for t in every},
        },
        "rows_per_second": rows_figure(a),
        "ceiling_bytes": ceiling,
        "memory_time_limit_s": memory_limit,
    }
    print_figures(say, out, loads)
    load_end = os.getloadavg()
    wall = time.monotonic() - started
    say("")
    say(
        "load average (1, 5, 15 min) at the end: "
        + " ".join(f"{x:.2f}" for x in load_end)
        + f"; the bench took {wall:.0f} s; not counted in any figure: the simulators "
        f"{simulator_cpu:.0f} CPU-s, the emulators {emulator_cpu:.0f} CPU-s"
    )
    out.update(
        {
            "load_average_end": [round(x, 2) for x in load_end],
            "simulators_cpu_s": round(simulator_cpu, 1),
            "emulators_cpu_s": round(emulator_cpu, 1),
            "wall_seconds": round(wall, 1),
        }
    )
    print(json.dumps(out, sort_keys=True), flush=True)
    failed = [n for n, load in loads.items() if not load.finished and not load.cost.stopped]
    return 1 if failed else 0


def _say(text: str) -> None:
    print(text, flush=True)


def _exit_on_sigterm(signum, frame) -> None:
    # As Ctrl-C does: unwinds, so that the loads' process groups, the simulators and the
    # emulators are stopped on the way out.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    say = (lambda *_: None) if args.json_only else _say
    if args.state_dir:
        state = Path(args.state_dir).resolve()
        state.mkdir(parents=True, exist_ok=True)
        return measure(args, state, say)
    with tempfile.TemporaryDirectory(prefix="fitbeam-bench-") as folder:
        return measure(args, Path(folder), say)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
