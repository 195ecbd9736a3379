"""`fitbeam run` (also `python -m pipeline.main`): a load into BigQuery.

    fitbeam run --users user-1,user-2 --start_date 2026-11-01 --end_date 2026-11-14 \\
        --token_store file:///var/fitbeam/tokens --dataset my-project:fitbit \\
        --dead_letter_root gs://my-bucket/dead-letters
    fitbeam run --requests_file requests.jsonl ...          # batch over request messages
    fitbeam run --streaming \\
        --requests_subscription projects/my-project/subscriptions/fitbeam-requests ...

On the DirectRunner a streaming run goes on until it is interrupted (Ctrl-C or
SIGTERM) or `stop` is set, then cancels and prints the report of what it did; on
Dataflow the command returns once the job is submitted.

Every option is checked before anything runs (`pipeline.options`). While a
local run goes on, a progress line on stderr shows its calls, rows and dead
letters when stderr is a terminal (`--progress auto|always|never`,
`pipeline.progress`). After the run the report is printed (and written with
`--report_json`). Beam's own
options (`--runner`, `--project`, `--temp_location`, ...) pass through.

`run` knows nothing of local emulators: the `fitbeam` command
(`commands.cli`) points Beam's BigQuery clients at one when
`BIGQUERY_EMULATOR_HOST` is set (`localdev.emulators`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

import apache_beam as beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions

from commands import logs
from healthapi.auth.broker import TokenBroker
from pipeline import build, preflight, progress, report
from pipeline.options import FitbeamOptions, OptionsError, resolve

_LOGGER = logging.getLogger(__name__)


def _direct_defaults(options: PipelineOptions, argv: list[str]) -> None:
    """One in-process worker on the DirectRunner, unless the flags say otherwise.

    Beam 2.77's DirectRunner in `multi_threading` mode lost rows of this graph
    at a Flatten (and once failed to decode them), so it is not the default;
    `multi_processing` workers cannot reach the local BigQuery emulator.
    """
    runner = options.view_as(StandardOptions).runner
    if runner not in (None, "DirectRunner", "direct"):
        return
    direct = options.view_as(DirectOptions)
    if not any(a.startswith("--direct_running_mode") for a in argv):
        direct.direct_running_mode = "in_memory"
    if not any(a.startswith("--direct_num_workers") for a in argv):
        direct.direct_num_workers = 1


def _is_direct(options: PipelineOptions) -> bool:
    return options.view_as(StandardOptions).runner in (
        None,
        "DirectRunner",
        "direct",
        "BundleBasedDirectRunner",
    )


def _until_stopped(result, stop: threading.Event) -> str:
    """Waits for a local streaming run to fail or to be stopped; cancels it when stopped.

    The DirectRunner's `wait_until_finish` does not return when the run is
    cancelled from another thread, so it waits in a thread of its own.
    """
    outcome: dict = {}

    def wait() -> None:
        try:
            outcome["state"] = result.wait_until_finish()
        except BaseException as err:  # handed to the caller below
            outcome["error"] = err

    waiter = threading.Thread(target=wait, name="fitbeam-streaming-wait", daemon=True)
    waiter.start()
    try:
        while waiter.is_alive() and not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        _LOGGER.info("interrupted: stopping the streaming run")
    if "error" in outcome:
        raise RuntimeError(f"the streaming run failed: {outcome['error']}") from outcome["error"]
    if waiter.is_alive():
        # Returns once the Pub/Sub read's pending pull ends (up to 30 s on the DirectRunner).
        result.cancel()
        return "CANCELLED"
    return str(outcome.get("state"))


def _in_this_process(options: PipelineOptions) -> bool:
    """Whether the stages run in this process, where the progress line can count them."""
    mode = options.view_as(DirectOptions).direct_running_mode
    return _is_direct(options) and mode != "multi_processing"


def waits_for_the_job(streaming: bool, direct: bool, submit_only: bool) -> bool:
    """Whether `run` waits for the job to end and reports on it.

    Local runs wait (a local streaming run until it is stopped). On a remote
    runner a streaming job never ends, and the Flex Template launcher
    (`submit_only`) must return once the job is submitted; a batch job launched
    from a workstation is waited for, so that its report is printed.
    """
    if direct:
        return True
    return not streaming and not submit_only


def run(
    argv: list[str] | None = None,
    today: dt.date | None = None,
    broker_factory: Callable[[], TokenBroker] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    out: Callable[[str], None] = print,
    stop: threading.Event | None = None,
    submit_only: bool = False,
    progress_to: TextIO | None = None,
) -> report.RunReport | None:
    """Runs one load and returns its report.

    Args:
        argv: the command-line flags (default: `sys.argv[1:]`).
        today: the UTC date that future dates are judged by, for the flags and
            for request messages (test seam; default: the clock).
        broker_factory: builds the token broker (test seam).
        sleep: waits between retries (test seam).
        out: where the report is printed.
        stop: a local streaming run stops when this is set (or on Ctrl-C).
        submit_only: return once a remote job is submitted (the Flex Template
            launcher must).
        progress_to: where a local run's progress line goes (default: stderr),
            as `--progress` asks.

    Returns:
        The run report; None for a job submitted to a remote runner without
        waiting (see `waits_for_the_job`).

    Raises:
        OptionsError: a bad option; nothing has run.
        RuntimeError: the pipeline failed.
    """
    argv = sys.argv[1:] if argv is None else argv
    options = PipelineOptions(argv)
    config = resolve(options, today=today)
    _direct_defaults(options, argv)
    started = time.monotonic()
    preflight.prepare_dataset(config.dataset)
    if config.import_layout and config.user_key and not config.time_zone:
        config = dataclasses.replace(
            config, time_zone=preflight.settings_time_zone(config.dataset, config.user_key)
        )
    ingest_time = dt.datetime.now(dt.UTC)
    p = beam.Pipeline(options=options)
    clock = None
    if today is not None:
        noon = dt.datetime.combine(today, dt.time(12), dt.UTC)
        clock = lambda: noon  # noqa: E731 - pickled with the parser; a fixed instant
    build.build_pipeline(
        p, config, ingest_time, broker_factory=broker_factory, sleep=sleep, clock=clock
    )
    line = progress.line_for(
        options,
        progress_to or sys.stderr,
        local=_in_this_process(options),
        started=started,
        calls_known=not config.dead_letters and config.calls_api,
    )
    state = "FAILED"
    try:
        if line:
            line.start()
        # The local batch runner runs the whole pipeline here, inside `p.run()`.
        result = p.run()
        if not waits_for_the_job(config.streaming, _is_direct(options), submit_only):
            out(f"job submitted (run {config.run_id}): {result}")
            return None
        if not config.streaming:
            state = result.wait_until_finish()
        else:  # a local streaming run
            out(
                f"streaming from {config.requests_subscription} (run {config.run_id}); Ctrl-C stops"
            )
            state = _until_stopped(result, stop or threading.Event())
    finally:
        if line:
            line.finish(str(state))
    values, note = {}, ""
    if not config.streaming:
        values = report.counters(result)
    else:
        # Beam 2.77's streaming DirectRunner records only the first bundles'
        # counters; figures from them would be wrong, so none are shown.
        note = (
            "the local streaming runner does not keep Beam counters; count rows in "
            f"BigQuery (run_id = '{config.run_id}') and dead letters under "
            f"{config.dead_letter_root}/{config.run_id}/"
        )
    run_report = report.from_counters(
        values,
        note=note,
        run_id=config.run_id,
        state=str(state),
        wall_seconds=round(time.monotonic() - started, 3),
        users=len(config.users),
        start_date=config.start_date.isoformat() if config.start_date else "",
        end_date=config.end_date.isoformat() if config.end_date else "",
        requests_from=(
            config.requests_subscription
            or config.requests_file
            or config.dead_letters
            or config.from_archive
            or config.import_path
        ),
        data_types=list(config.data_types),
        dead_letter_path=f"{config.dead_letter_root}/{config.run_id}/",
    )
    out(run_report.render())
    if config.report_json:
        report.write_json(run_report, config.report_json)
    return run_report


def usage() -> str:
    parser = argparse.ArgumentParser(
        prog="fitbeam run",
        description="A load into BigQuery: batch, or streaming from Pub/Sub with --streaming. "
        "Beam's own options (--runner, --project, "
        "--temp_location, ...) are accepted too.",
    )
    FitbeamOptions._add_argparse_args(parser)
    progress.ProgressOptions._add_argparse_args(parser)
    return parser.format_help()


def main(argv: list[str] | None = None, submit_only: bool = False) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        print(usage())
        return 0
    logs.configure()
    # A local streaming run stops cleanly (cancel, then the report) on Ctrl-C or SIGTERM.
    stop = threading.Event()
    if any(a == "--streaming" or a.startswith("--streaming=") for a in argv):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stop.set())
    try:
        run(argv, stop=stop, submit_only=submit_only)
    except OptionsError as err:
        print(f"fitbeam run: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
