"""One `fitbeam run` in a process of its own, for `make bench` (`bench.scorecard`) to measure.

    python -m bench.pipeline_process SPEC.json

SPEC.json holds `argv` (the flags of `fitbeam run`), `today` (the date the flags are judged
by) and `result` (where to write what the run did). The emulators are named by the
environment (`localdev.emulators.LocalEmulators.env`). The process does nothing but the
run: the simulator and the emulators are other processes, so its CPU time and memory are
the pipeline's own. It writes to `result`, as JSON: the run report, and the CPU seconds
and wall seconds of `pipeline.main.run` alone (interpreter start-up and imports left out).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import resource
import sys
import time
from pathlib import Path


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and the children it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + children.ru_utime, own.ru_stime + children.ru_stime


def main(argv: list[str]) -> int:
    spec = json.loads(Path(argv[0]).read_text())
    from localdev import emulators
    from pipeline import main as pipeline_main

    emulators.use_emulator_endpoints()
    user0, system0 = cpu_seconds()
    started = time.perf_counter()
    report = pipeline_main.run(
        spec["argv"], today=dt.date.fromisoformat(spec["today"]), out=lambda text: None
    )
    wall = time.perf_counter() - started
    user1, system1 = cpu_seconds()
    result = {
        "report": report.to_json(),
        "run_wall_seconds": wall,
        "run_cpu_user": user1 - user0,
        "run_cpu_system": system1 - system0,
    }
    Path(spec["result"]).write_text(json.dumps(result))
    return 0 if report.state == "DONE" else 1


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main(sys.argv[1:]))
