"""Measuring the processes of `make bench` (`bench.scorecard`), from outside them.

- `run_measured`: starts a command in a new session (its own process group) and, until it
  ends, samples the resident memory of the process and all its descendants from /proc.
  Above a memory ceiling or past a time limit it kills that process group and says so. Its
  CPU time comes from `os.wait4`: the process and the descendants it waited for.
- `cpu_seconds_of`, `process_tree`: the CPU time other processes (the simulator, the
  emulators) have used, to print beside the figures they are kept out of.

Linux only (/proc).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

STOPPED_MEMORY = "memory ceiling"
STOPPED_TIME = "time limit"
STOPPED_CANCELLED = "cancelled"


@dataclasses.dataclass
class ProcessCost:
    """What one measured process cost.

    Attributes:
        exit_code: as `subprocess` gives it (negative: killed by that signal).
        stopped: why the benchmark stopped it (`STOPPED_MEMORY`, `STOPPED_TIME`), or None.
        wall_seconds: from start to exit.
        cpu_user, cpu_system: CPU seconds of the process and the descendants it waited for.
        peak_rss_bytes: the highest resident memory seen: the sum over the process and its
            descendants (sampled), or the kernel's high-water mark of any one of them,
            whichever is higher.
        samples: memory samples taken.
        timeline: every `watch_every` seconds, (seconds since the start, resident bytes of
            the process and its descendants, what `watch` returned then).
    """

    exit_code: int
    stopped: str | None
    wall_seconds: float
    cpu_user: float
    cpu_system: float
    peak_rss_bytes: int
    samples: int
    timeline: list[tuple[float, int, float | None]] = dataclasses.field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user + self.cpu_system


def _children() -> dict[int, list[int]]:
    """Every process's children, from /proc/*/stat."""
    out: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        # The command name is in parentheses and may hold spaces; the ppid follows the state.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        out[ppid].append(int(entry.name))
    return out


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds_of(pids: list[int]) -> float:
    """CPU seconds the processes `pids` (and the children they waited for) have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended
            continue
        # utime, stime, cutime, cstime: fields 14-17 of stat(5), 12-15 after the command.
        total += sum(int(f) for f in fields[11:15])
    return total / ticks


def _status_kb(pid: int, field: str) -> int:
    """A `kB` field of /proc/PID/status (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _kill_group(pid: int):
    """SIGKILL to the process group `pid` leads; reaps its leader: (status, rusage)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    return status, usage


def run_measured(
    cmd: list[str],
    *,
    env: dict[str, str],
    cwd: str,
    log_path: Path,
    ceiling_bytes: float,
    time_limit: float,
    interval: float = 0.2,
    watch: Callable[[], float] | None = None,
    watch_every: float = 5.0,
    cancel: threading.Event | None = None,
) -> ProcessCost:
    """Runs `cmd` to its end, or stops it at the memory ceiling or the time limit.

    The command runs in a new session, so that stopping it (SIGKILL to its process group)
    reaches every process it started and nothing else; it is stopped too when `cancel` is
    set or this function is interrupted (the new session does not get the terminal's
    Ctrl-C). `watch`, when given, is asked for the load's progress every `watch_every`
    seconds, beside a memory sample (`timeline`).
    """
    cancel = cancel or threading.Event()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module
            cmd, env=env, cwd=cwd, stdout=log, stderr=log, start_new_session=True
        )
    started = time.monotonic()
    peak = hwm = samples = 0
    stopped = None
    timeline: list[tuple[float, int, float | None]] = []
    next_mark = 0.0
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            tree = process_tree(process.pid)
            rss = sum(_status_kb(p, "VmRSS") for p in tree) * 1024
            hwm = max(hwm, max(_status_kb(p, "VmHWM") for p in tree) * 1024)
            peak, samples = max(peak, rss), samples + 1
            elapsed = time.monotonic() - started
            if elapsed >= next_mark:
                timeline.append((round(elapsed, 1), rss, watch() if watch else None))
                next_mark += watch_every
            if rss > ceiling_bytes:
                stopped = STOPPED_MEMORY
            elif elapsed > time_limit:
                stopped = STOPPED_TIME
            elif cancel.is_set():
                stopped = STOPPED_CANCELLED
            if stopped:
                status, usage = _kill_group(process.pid)
                break
            cancel.wait(interval)
    except BaseException:
        _kill_group(process.pid)
        process.returncode = -signal.SIGKILL
        raise
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return ProcessCost(
        exit_code=process.returncode,
        stopped=stopped,
        wall_seconds=wall,
        cpu_user=usage.ru_utime,
        cpu_system=usage.ru_stime,
        peak_rss_bytes=max(peak, hwm, usage.ru_maxrss * 1024),
        samples=samples,
        timeline=timeline,
    )
