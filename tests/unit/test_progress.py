"""pipeline.progress: the tally on exact inputs, the line's text, and when a run shows it.

The line is driven by hand (`show`, `finish`) on a fake stream and an injected
clock; no test waits on the wall clock.
"""

from __future__ import annotations

import argparse
import io
import logging
import threading

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from localdev import demo
from pipeline import main, progress
from pipeline.progress import Progress, ProgressLine, Tally
from transforms.dead_letters import DeadLetter


class FakeStream(io.StringIO):
    """A stream that says whether it is a terminal."""

    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class FakeClock:
    def __init__(self, now: float = 100.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the tally -------------------------------------------------------------------------


def test_the_tally_sums_what_is_added():
    tally = Tally()
    tally.add(planned=3)
    tally.add(done=1, rows=250)
    tally.add(rows=1000, dead_letters=2, done=2)
    assert tally.read() == Progress(calls_planned=3, calls_done=3, rows=1250, dead_letters=2)


def test_the_tally_adds_from_many_threads_without_losing_any():
    tally = Tally()

    def add_many():
        for _ in range(10_000):
            tally.add(rows=1)

    threads = [threading.Thread(target=add_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tally.read().rows == 40_000


def test_progress_figures_subtract_field_by_field():
    assert Progress(10, 8, 500, 3) - Progress(4, 2, 100, 1) == Progress(6, 6, 400, 2)


def test_a_dead_letter_counts_when_made_and_a_fetch_letter_is_a_call_done():
    tally = progress.TALLY
    before = tally.read()
    DeadLetter(stage="schema", original={}, error_class="E", message="m", timestamp="t")
    DeadLetter(stage="fetch", original={}, error_class="E", message="m", timestamp="t")
    DeadLetter(stage="fetch_detail", original={}, error_class="E", message="m", timestamp="t")
    assert tally.read() - before == Progress(calls_done=2, dead_letters=3)


# -- the line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (7.9, "0:07"), (67, "1:07"), (3723, "1:02:03")]
)
def test_elapsed_time_reads_as_a_clock(seconds, text):
    assert progress.elapsed_text(seconds) == text


def test_the_line_reads_calls_rows_dead_letters_and_elapsed_time():
    figures = Progress(calls_planned=1386, calls_done=412, rows=208114, dead_letters=3)
    assert progress.render(figures, 41.2) == (
        "progress: calls 412/1,386, rows 208,114, dead letters 3, elapsed 0:41"
    )
    assert progress.render(figures, 41.2, calls_known=False) == (
        "progress: calls 412, rows 208,114, dead letters 3, elapsed 0:41"
    )


def test_on_a_terminal_the_line_is_redrawn_in_place_and_ends_with_the_outcome():
    tally, clock, stream = Tally(), FakeClock(), FakeStream(tty=True)
    tally.add(planned=5, rows=7)  # before the run: not its own
    line = ProgressLine(stream, started=99.0, tally=tally, clock=clock)
    tally.add(planned=120, done=40, rows=15_000, dead_letters=2)
    clock.now = 111.0
    line.show()
    tally.add(done=80, rows=2_000, dead_letters=1)
    clock.now = 120.5
    line.show()
    tally.add(rows=1)
    clock.now = 121.0
    final = line.finish("DONE")
    first = "progress: calls 40/120, rows 15,000, dead letters 2, elapsed 0:12"
    second = "progress: calls 120/120, rows 17,000, dead letters 3, elapsed 0:21"
    last = "progress: calls 120/120, rows 17,001, dead letters 3, elapsed 0:22 (DONE)"
    assert stream.getvalue() == f"\r{first}\r{second}\r{last}\n"
    assert final == Progress(calls_planned=120, calls_done=120, rows=17_001, dead_letters=3)


def test_a_shorter_line_blanks_what_is_left_of_the_longer_one_before_it():
    tally, clock, stream = Tally(), FakeClock(), FakeStream(tty=True)
    line = ProgressLine(stream, started=100.0, tally=tally, clock=clock)
    clock.now = 3700.0  # elapsed 1:00:00
    line.show()
    clock.now = 100.0  # the clock is injected: back to 0:00, three characters shorter
    line.show()
    longer = "progress: calls 0/0, rows 0, dead letters 0, elapsed 1:00:00"
    shorter = "progress: calls 0/0, rows 0, dead letters 0, elapsed 0:00"
    assert stream.getvalue() == f"\r{longer}\r{shorter}   "


def test_on_a_narrow_terminal_the_running_line_is_cut_to_its_width():
    tally, clock, stream = Tally(), FakeClock(), FakeStream(tty=True)
    line = ProgressLine(stream, started=100.0, tally=tally, clock=clock, columns=lambda: 40)
    line.show()
    line.finish("DONE")
    text = "progress: calls 0/0, rows 0, dead letters 0, elapsed 0:00"
    assert stream.getvalue() == f"\r{text[:39]}\r{text} (DONE)\n"


def test_in_a_log_each_line_stands_on_its_own():
    tally, clock, stream = Tally(), FakeClock(), FakeStream(tty=False)
    line = ProgressLine(stream, started=100.0, tally=tally, clock=clock)
    tally.add(planned=2, done=1, rows=10)
    clock.now = 110.0
    line.show()
    tally.add(done=1)
    line.finish("FAILED")
    assert stream.getvalue().splitlines() == [
        "progress: calls 1/2, rows 10, dead letters 0, elapsed 0:10",
        "progress: calls 2/2, rows 10, dead letters 0, elapsed 0:10 (FAILED)",
    ]
    assert line.interval == progress.LOG_INTERVAL


def test_the_line_is_shown_from_its_thread_until_finished():
    tally, stream = Tally(), FakeStream(tty=True)
    shown = threading.Event()

    class Watched(ProgressLine):
        def show(self):
            super().show()
            shown.set()

    line = Watched(stream, tally=tally, clock=FakeClock(), interval=0.001).start()
    assert shown.wait(5)
    line.finish("DONE")
    assert stream.getvalue().endswith("elapsed 0:00 (DONE)\n")
    assert not line._thread.is_alive()


def test_a_log_record_on_the_same_terminal_blanks_the_line_and_gets_a_line_of_its_own():
    tally, clock, stream = Tally(), FakeClock(), FakeStream(tty=True)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        line = ProgressLine(stream, started=100.0, tally=tally, clock=clock, interval=3600)
        line.start()
        line.show()
        logging.getLogger("tests.progress").warning("user %s: refresh token rejected", "user-1")
        line.show()
        line.finish("DONE")
        logging.getLogger("tests.progress").warning("after the run")
    finally:
        root.removeHandler(handler)
    text = "progress: calls 0/0, rows 0, dead letters 0, elapsed 0:00"
    blank = " " * len(text)
    assert stream.getvalue() == (
        f"\r{text}\r{blank}\rWARNING user user-1: refresh token rejected\n"
        f"\r{text}\r{text} (DONE)\nWARNING after the run\n"
    )
    assert handler.filters == []


# -- which runs show it ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "tty", "local", "shown"),
    [
        ([], True, True, True),
        ([], False, True, False),
        (["--progress=always"], False, True, True),
        (["--progress=never"], True, True, False),
        (["--progress=always"], True, False, False),  # a remote run counts elsewhere
        ([], True, False, False),
    ],
)
def test_a_run_shows_the_line_as_asked(flags, tty, local, shown):
    options = PipelineOptions(["--dataset=my-project:fitbit", *flags])
    line = progress.line_for(options, FakeStream(tty), local=local)
    assert (line is not None) == shown


def test_an_unknown_mode_is_refused_by_the_parser():
    with pytest.raises(SystemExit):
        PipelineOptions(["--progress=sometimes"]).view_as(progress.ProgressOptions)


def test_the_demo_offers_the_runs_modes():
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    [action] = [a for a in parser._actions if a.dest == "progress"]
    assert tuple(action.choices) == progress.MODES
    assert parser.parse_args([]).progress is None  # the run's own default


@pytest.mark.parametrize(
    ("flags", "counted"),
    [
        ([], True),  # the DirectRunner, by default
        (["--direct_running_mode=in_memory"], True),
        (["--direct_running_mode=multi_threading"], True),
        (["--direct_running_mode=multi_processing"], False),  # workers count in their own
        (["--runner=DataflowRunner"], False),
    ],
)
def test_the_line_counts_only_runs_whose_stages_run_in_this_process(flags, counted):
    assert main._in_this_process(PipelineOptions(flags)) is counted
