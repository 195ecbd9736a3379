"""The progress line of a whole run on the DirectRunner: its last figures are the report's.

`build_pipeline` runs as `fitbeam run` builds it (flags through
`pipeline.options.resolve`) against the in-process simulator, with 503s
injected after consent and one attempt per call, so that some calls end as
fetch dead letters; the BigQuery write is stood in by `NotingTables`, which
refuses nothing. The line is made and finished around the run as
`pipeline.main.run` does, on a fake terminal with a clock that stands still.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline

from pipeline import build, progress, report
from pipeline.options import resolve
from tests.transforms.conftest import fixed_clock, no_wait
from tests.transforms.test_build_pipeline import INGEST, TODAY
from tests.unit.test_progress import FakeClock, FakeStream
from transforms.validate import PROGRESS_EVERY

# The tally's rows when a write had seen this many rows (before its bundle ended).
NOTE_AT = 5 * PROGRESS_EVERY
noted: list[int] = []


class NotingTables(beam.PTransform):
    """Stands in for WriteTables: refuses no row; notes the tally at its NOTE_AT-th row."""

    def expand(self, pairs):
        return pairs | "Note" >> beam.ParDo(_NoteFn())


class _NoteFn(beam.DoFn):
    def start_bundle(self):
        self.seen = 0

    def process(self, pair):
        self.seen += 1
        if self.seen == NOTE_AT:
            noted.append(progress.TALLY.read().rows)
        return ()


def test_the_last_progress_line_holds_the_reports_calls_rows_and_dead_letters(
    sim, tokens, tmp_path
):
    sim.set_faults("503=0.3")  # after consent: the faults are the run's
    options = PipelineOptions(
        [
            "--users=user-1,user-2",
            "--start_date=2026-11-22",
            "--end_date=2026-11-22",
            "--data_types=steps,heart-rate,exercise,total-calories",
            f"--api_base_url={sim.base_url}",
            f"--token_store={tokens.root}",
            "--dataset=my-project:fitbit",
            f"--dead_letter_root={tmp_path / 'dead-letters'}",
            "--temp_location=gs://my-bucket/tmp",
            "--run_id=progress",
            "--max_attempts=1",
            "--quota_per_minute=10000",
            "--progress=always",
        ]
    )
    cfg = resolve(options, today=TODAY)
    p = test_pipeline.TestPipeline()
    build.build_pipeline(
        p, cfg, INGEST, sleep=no_wait, clock=fixed_clock, write_tables=lambda cfg: NotingTables()
    )
    stream, clock = FakeStream(tty=True), FakeClock()
    noted.clear()
    line = progress.line_for(options, stream, local=True, clock=clock)
    line.start()
    result = p.run()
    state = result.wait_until_finish()
    final = line.finish(str(state))

    run = report.from_counters(
        report.counters(result),
        run_id=cfg.run_id,
        state=str(state),
        wall_seconds=0.0,
        users=2,
        start_date="2026-11-22",
        end_date="2026-11-22",
        data_types=list(cfg.data_types),
        dead_letter_path="",
    )
    assert run.dead_letters.get("fetch", 0) + run.dead_letters.get("fetch_detail", 0) > 0
    assert run.calls_done == run.calls_planned > 0
    assert run.rows_total > NOTE_AT
    assert final == progress.Progress(
        calls_planned=run.calls_planned,
        calls_done=run.calls_done,
        rows=run.rows_total,
        dead_letters=run.dead_letters_total,
    )
    assert stream.getvalue().endswith(
        f"\rprogress: calls {run.calls_done:,}/{run.calls_planned:,}, "
        f"rows {run.rows_total:,}, dead letters {run.dead_letters_total:,}, "
        "elapsed 0:00 (DONE)\n"
    )
    # Rows are counted while a bundle goes on, not only when it ends.
    assert max(noted) - line.baseline.rows >= NOTE_AT - PROGRESS_EVERY
