"""A local run's progress: a status line on stderr while the pipeline runs.

    fitbeam run ... --progress auto      # the default: only when stderr is a terminal
    fitbeam run ... --progress always    # also into a log: a full line every 10 s
    fitbeam run ... --progress never

On a terminal the line is redrawn in place every second, and left standing,
with the run's outcome, when the pipeline ends:

    progress: calls 412/1,386, rows 208,114, dead letters 3, elapsed 0:41
    progress: calls 1,386/1,386, rows 702,905, dead letters 7, elapsed 2:17 (DONE)

Calls are counted done when answered in full or dead-lettered; planned calls
include the TCX calls found in exercises as they are found (a replay does not
know its calls ahead: its line shows calls done only). Rows are rows that passed
validation, on their way to BigQuery, load-log rows aside; dead letters are those
of every stage. The final figures are the run report's.

The counting is a side channel of the process, `TALLY`: the stages add to it
per page (`transforms.rows`), per thousand rows and per bundle
(`transforms.validate`), per planned request (`transforms.plan`) and per dead
letter made (`transforms.dead_letters.DeadLetter`). Beam's counters cannot serve:
the local runner hands them over only when the run ends, and its batch runner
makes one bundle of all of a stage's input. On a remote runner (Dataflow) the
stages count into their workers' tallies, which nobody reads, and no line is
shown: Beam's counters serve the job's page instead.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TextIO

from apache_beam.options.pipeline_options import PipelineOptions

AUTO, ALWAYS, NEVER = "auto", "always", "never"
MODES = (AUTO, ALWAYS, NEVER)
# Seconds between two lines: in place on a terminal, one below the other in a log.
TERMINAL_INTERVAL = 1.0
LOG_INTERVAL = 10.0


class ProgressOptions(PipelineOptions):
    """`--progress`: whether a local run shows its progress line on stderr."""

    @classmethod
    def _add_argparse_args(cls, parser):
        parser.add_argument(
            "--progress",
            choices=MODES,
            default=AUTO,
            help="a local run's progress line on stderr: auto (only when stderr is a "
            "terminal), always, or never; e.g. --progress never",
        )


@dataclasses.dataclass(frozen=True)
class Progress:
    """Figures of a run so far (or of the process, for `Tally.read`)."""

    calls_planned: int = 0
    calls_done: int = 0
    rows: int = 0
    dead_letters: int = 0

    def __sub__(self, other: Progress) -> Progress:
        return Progress(
            *(getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(Progress))
        )


class Tally:
    """Running totals of the process, added to from any thread.

    A lock per `add`: callers add per page, per thousand rows or per dead
    letter, never per row.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._planned = self._done = self._rows = self._dead = 0

    def add(self, planned: int = 0, done: int = 0, rows: int = 0, dead_letters: int = 0) -> None:
        with self._lock:
            self._planned += planned
            self._done += done
            self._rows += rows
            self._dead += dead_letters

    def read(self) -> Progress:
        with self._lock:
            return Progress(self._planned, self._done, self._rows, self._dead)


# The process's tally: the stages add to it; a run's line shows what was added since it began.
TALLY = Tally()


def elapsed_text(seconds: float) -> str:
    """`7.9` -> `0:07`, `67` -> `1:07`, `3723` -> `1:02:03`."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def render(progress: Progress, elapsed: float, calls_known: bool = True) -> str:
    """The line's text (no line ending)."""
    calls = (
        f"{progress.calls_done:,}/{progress.calls_planned:,}"
        if calls_known
        else f"{progress.calls_done:,}"
    )
    return (
        f"progress: calls {calls}, rows {progress.rows:,}, "
        f"dead letters {progress.dead_letters:,}, elapsed {elapsed_text(elapsed)}"
    )


class ProgressLine:
    """Shows a run's progress on `stream`, from a thread of its own, until `finish`.

    On a terminal (`stream.isatty()`) each line overwrites the one before
    (carriage return, padded to the longest so far, cut to the terminal's
    width so that it never wraps onto a second row), and a log record printed
    to the same stream first blanks it, so that the record starts a line of its
    own; elsewhere each is a line of its own. The figures are what the tally
    gained since the line was made.

    Args:
        stream: where the line goes (stderr).
        started: the run's start on `clock`, which elapsed time counts from.
        tally: what is counted (test seam; default the process's).
        clock: monotonic seconds (test seam).
        interval: seconds between lines (default: 1 on a terminal, 10 elsewhere).
        calls_known: whether the run plans its calls (not a replay).
        columns: the terminal's width, or None (test seam; default: asks the terminal).
    """

    def __init__(
        self,
        stream: TextIO,
        started: float | None = None,
        tally: Tally = TALLY,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
        calls_known: bool = True,
        columns: Callable[[], int | None] | None = None,
    ):
        self.stream = stream
        self.columns = columns or (lambda: _columns(stream))
        self.tty = _isatty(stream)
        self.tally = tally
        self.clock = clock
        self.started = clock() if started is None else started
        self.interval = interval or (TERMINAL_INTERVAL if self.tty else LOG_INTERVAL)
        self.calls_known = calls_known
        self.baseline = tally.read()
        self.last = Progress()
        self._width = 0
        self._lock = threading.Lock()  # the thread's lines, the final one, and log records
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._blanking = _BlankBeforeRecords(self)
        self._handlers: list[logging.Handler] = []

    def read(self) -> Progress:
        """What the run has done so far."""
        self.last = self.tally.read() - self.baseline
        return self.last

    def show(self) -> None:
        """Writes the line once, as it is now."""
        self._write(render(self.read(), self.clock() - self.started, self.calls_known), end="")

    def start(self) -> ProgressLine:
        """Shows the line every `interval` seconds from a daemon thread."""
        if self.tty:
            self._handlers = [
                h for h in logging.getLogger().handlers if getattr(h, "stream", None) is self.stream
            ]
            for handler in self._handlers:
                handler.addFilter(self._blanking)
        self._thread = threading.Thread(target=self._loop, name="fitbeam-progress", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.show()

    def finish(self, outcome: str) -> Progress:
        """Stops the thread and writes the final line, with `outcome` (the run's state).

        Returns:
            The run's final figures.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for handler in self._handlers:
            handler.removeFilter(self._blanking)
        text = render(self.read(), self.clock() - self.started, self.calls_known)
        self._write(f"{text} ({outcome})", end="\n")
        return self.last

    def blank(self) -> None:
        """Blanks the line on a terminal and puts the cursor at its start."""
        with self._lock:
            if self.tty and self._width:
                self.stream.write(f"\r{' ' * self._width}\r")
                self.stream.flush()
                self._width = 0

    def _write(self, text: str, end: str) -> None:
        with self._lock:
            if self.tty:
                columns = self.columns()
                if not end and columns:
                    text = text[: columns - 1]
                padding = " " * max(0, self._width - len(text))
                self._width = 0 if end else max(self._width, len(text))
                self.stream.write(f"\r{text}{padding}{end}")
            else:
                self.stream.write(f"{text}\n")
            self.stream.flush()


class _BlankBeforeRecords(logging.Filter):
    """Put on a log handler that writes to the line's stream: blanks the line first."""

    def __init__(self, line: ProgressLine):
        super().__init__()
        self.line = line

    def filter(self, record: logging.LogRecord) -> bool:
        self.line.blank()
        return True


def _columns(stream: TextIO) -> int | None:
    """The width of the terminal `stream` writes to, if it says."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, OSError, ValueError):  # not a file, or not a terminal
        return None


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def line_for(
    options: PipelineOptions,
    stream: TextIO,
    local: bool,
    started: float | None = None,
    calls_known: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> ProgressLine | None:
    """The progress line a run asks for, or None.

    Args:
        options: the run's options (`--progress`).
        stream: where it would go (stderr).
        local: whether the run is in this process (the DirectRunner); a remote
            run's stages count elsewhere, so it gets no line.
        started: the run's start on the monotonic clock.
        calls_known: whether the run plans its calls (not a replay).
        clock: monotonic seconds (test seam).
    """
    mode = options.view_as(ProgressOptions).progress
    if not local or mode == NEVER or (mode == AUTO and not _isatty(stream)):
        return None
    return ProgressLine(stream, started=started, clock=clock, calls_known=calls_known)
