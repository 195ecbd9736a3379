"""Dead letters of a stream: a file per bundle, written before the bundle ends."""

from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline

from transforms.dead_letters import DeadLetter, WriteDeadLetters, _WriteDeadLetterFilesFn

NOW = dt.datetime(2026, 11, 28, 12, 30, 5, tzinfo=dt.UTC)


def letter(n: int) -> DeadLetter:
    return DeadLetter(
        stage="parse_request",
        original={"message": f"bad {n}"},
        error_class="not_json",
        message="not JSON",
        timestamp="2026-11-28T12:30:05.000000Z",
        replayable=False,
    )


def lines_in(folder) -> dict[str, list[dict]]:
    return {
        p.name: [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(folder.iterdir())
    }


def test_a_bundle_becomes_one_file_when_it_ends(tmp_path):
    fn = _WriteDeadLetterFilesFn(f"{tmp_path}/", clock=lambda: NOW)
    fn.start_bundle()
    for n in range(3):
        assert list(fn.process(letter(n)) or []) == []
    assert list(tmp_path.iterdir()) == []  # nothing before the bundle ends
    fn.finish_bundle()
    [(name, lines)] = lines_in(tmp_path).items()
    assert name.startswith("dead-letters-20261128T123005Z-") and name.endswith(".jsonl")
    assert [d["original"]["message"] for d in lines] == ["bad 0", "bad 1", "bad 2"]
    assert lines[0] == json.loads(letter(0).to_json())


def test_a_large_bundle_is_written_in_pieces_and_an_empty_one_not_at_all(tmp_path):
    fn = _WriteDeadLetterFilesFn(f"{tmp_path}/", max_letters=2, clock=lambda: NOW)
    fn.start_bundle()
    fn.finish_bundle()
    assert list(tmp_path.iterdir()) == []
    fn.start_bundle()
    for n in range(5):
        fn.process(letter(n))
    fn.finish_bundle()
    files = lines_in(tmp_path)
    assert sorted(len(lines) for lines in files.values()) == [1, 2, 2]
    assert sorted(d["original"]["message"] for lines in files.values() for d in lines) == [
        f"bad {n}" for n in range(5)
    ]


def test_in_a_pipeline_every_letter_lands_under_the_run(tmp_path):
    with TestPipeline() as p:
        _ = (
            p
            | beam.Create([letter(n) for n in range(7)])
            | WriteDeadLetters(str(tmp_path), "run-1", streaming=True)
        )
    written = lines_in(tmp_path / "run-1")
    assert sorted(d["original"]["message"] for lines in written.values() for d in lines) == [
        f"bad {n}" for n in range(7)
    ]
