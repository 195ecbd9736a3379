"""The batch and the streaming graph translate for Dataflow (`--dry_run`: nothing is submitted).

Beam's DataflowRunner builds the job it would submit, runner API proto included,
and stops before calling the service. What runs locally on the DirectRunner is
the same graph, so this keeps it known to translate for Dataflow: every step
label unique and stable, no label repeated by the step inside it, and the
streaming graph a streaming job.
"""

from __future__ import annotations

import datetime as dt
import itertools

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.build import build_pipeline
from pipeline.options import resolve

TODAY = dt.date(2026, 12, 1)
INGEST = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
COMMON = [
    "--runner=DataflowRunner",
    "--dry_run=True",
    "--project=my-project",
    "--region=europe-west1",
    "--temp_location=gs://my-bucket/tmp",
    "--dataset=my-project:fitbit",
    "--token_store=secretmanager://my-project/fitbeam",
    "--dead_letter_root=gs://my-bucket/dead-letters",
    "--run_id=run-translation",
]
BATCH = ["--users=user-1,user-2", "--start_date=2026-11-01", "--end_date=2026-11-14"]
STREAMING = [
    "--streaming",
    "--requests_subscription=projects/my-project/subscriptions/fitbeam-requests",
]
# The stages, in the order data flows through them (pipeline.build).
STAGES = {
    "ReadRequests",
    "PlanCalls",
    "Fetch",
    "Rows",
    "ValidateRows",
    "WriteTables",
    "FetchDetail",
    "DetailRows",
    "ValidateDetailRows",
    "WriteDetailTables",
    "PlanUserCalls",
    "FetchUser",
    "UserRows",
    "ValidateUserRows",
    "WriteUserTables",
    "AllDeadLetters",
    "WriteDeadLetters",
}


def _translate(flags: list[str]):
    options = PipelineOptions(COMMON + flags)
    config = resolve(options, today=TODAY)
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, INGEST)
    result = p.run()
    return result.job


def _labels(job) -> list[str]:
    return sorted(
        t.unique_name
        for t in job.proto_pipeline.components.transforms.values()
        # Beam's own wrapper of the whole graph is unnamed or starts with ref_.
        if t.unique_name and not t.unique_name.startswith("ref_")
    )


@pytest.mark.parametrize(
    ("flags", "streaming", "inner"),
    [
        (
            BATCH,
            False,
            {
                "ReadRequests/FromCommandLine",
                "WriteTables/FileLoads",
                "WriteDeadLetters/WriteFile",
            },
        ),
        (
            STREAMING,
            True,
            {
                "ReadRequests/ReadPubSub",
                "ReadRequests/ParseMessages",
                "WriteTables/StreamingInserts",
                "WriteDeadLetters/WriteFilePerBundle",
            },
        ),
    ],
    ids=["batch", "streaming"],
)
def test_the_graph_translates_for_dataflow(flags, streaming, inner):
    job = _translate(flags)
    labels = _labels(job)
    top = {label for label in labels if "/" not in label}
    assert top == STAGES
    assert inner <= set(labels)
    assert job.options.view_as(StandardOptions).streaming is streaming


# Beam's own composites inside the stages: what they name inside is Beam's business.
BEAM_COMPOSITES = {
    "FromCommandLine",
    "NoBadMessages",
    "ReadPubSub",
    "ReadFile",
    "Spread",
    "FileLoads",
    "StreamingInserts",
    "NoFailures",
    "WriteFile",
    "Read",
    # beam.Partition's step is named after its DoFn, inside and out.
    "ParDo(ApplyPartitionFnFn)",
    "CombinePerKey",
}


def _our_label_pairs(label: str) -> list[tuple[str, str]]:
    """(outer, inner) label pairs of fitbeam's own steps along one step's path."""
    parts = label.split("/")
    pairs = []
    for outer, inner in itertools.pairwise(parts):
        if outer in BEAM_COMPOSITES:
            break
        pairs.append((outer, inner))
    return pairs


def test_our_label_pairs_stop_at_beams_composites():
    assert _our_label_pairs("Fetch/Spread/AddRandomKeys/Map") == [("Fetch", "Spread")]
    assert _our_label_pairs("ReadRequests/ParseMessages/ToRequests") == [
        ("ReadRequests", "ParseMessages"),
        ("ParseMessages", "ToRequests"),
    ]


@pytest.mark.parametrize("flags", [BATCH, STREAMING], ids=["batch", "streaming"])
def test_no_step_repeats_the_label_of_the_step_around_it(flags):
    repeated = sorted(
        label
        for label in _labels(_translate(flags))
        for outer, inner in _our_label_pairs(label)
        if inner.startswith(outer) or outer.startswith(inner)
    )
    assert repeated == []


@pytest.mark.parametrize("flags", [BATCH, STREAMING], ids=["batch", "streaming"])
def test_no_flatten_gathers_the_rows_only_the_dead_letters(flags):
    # A Flatten of every row before validation made the local runner hold a run's rows;
    # each branch validates and writes its own now. Beam's own writes flatten file names.
    job = _translate(flags)
    flattens = sorted(
        t.unique_name
        for t in job.proto_pipeline.components.transforms.values()
        if t.spec.urn == "beam:transform:flatten:v1"
        and not set(t.unique_name.split("/")[:-1]) & BEAM_COMPOSITES
    )
    assert flattens == ["AllDeadLetters"]


ARCHIVE = ["--raw_archive=gs://my-bucket/raw"]
HISTORY_COMMON = [f for f in COMMON if not f.startswith("--token_store")]


@pytest.mark.parametrize(
    ("flags", "streaming"),
    [(BATCH + ARCHIVE, False), (STREAMING + ARCHIVE, True)],
    ids=["batch", "streaming"],
)
def test_the_raw_archive_is_a_step_per_fetch(flags, streaming):
    job = _translate(flags)
    top = {label for label in _labels(job) if "/" not in label}
    assert top == STAGES | {"Archive", "ArchiveDetail", "ArchiveUser"}
    assert job.options.view_as(StandardOptions).streaming is streaming


def _translate_history(flags: list[str]):
    options = PipelineOptions(HISTORY_COMMON + flags)
    config = resolve(options, today=TODAY)
    p = beam.Pipeline(options=options)
    build_pipeline(p, config, INGEST)
    return p.run().job


@pytest.mark.parametrize(
    ("flags", "top"),
    [
        (
            ["--from_archive=gs://my-bucket/raw/**", "--run_id=rebuild-1"],
            {
                "ReadArchive",
                "SplitAnswers",
                "Rows",
                "ValidateRows",
                "WriteTables",
                "PairTcx",
                "DetailRows",
                "ValidateDetailRows",
                "WriteDetailTables",
                "UserRows",
                "ValidateUserRows",
                "WriteUserTables",
                "AllDeadLetters",
                "WriteDeadLetters",
            },
        ),
        (
            [
                "--import_takeout=gs://my-bucket/takeout.zip",
                "--user_key=p-0042",
                "--time_zone=Europe/London",
                "--run_id=import-takeout-1",
            ],
            {"Import", "ValidateRows", "WriteTables", "AllDeadLetters", "WriteDeadLetters"},
        ),
        (
            [
                "--import_legacy=gs://my-old-bucket",
                "--user_key=p-0042",
                "--time_zone=Europe/London",
                "--run_id=import-legacy-1",
            ],
            {"Import", "ValidateRows", "WriteTables", "AllDeadLetters", "WriteDeadLetters"},
        ),
    ],
    ids=["rebuild", "import-takeout", "import-legacy"],
)
def test_the_history_jobs_translate_for_dataflow(flags, top):
    job = _translate_history(flags)
    labels = _labels(job)
    assert {label for label in labels if "/" not in label} == top
    assert job.options.view_as(StandardOptions).streaming is False
    repeated = [
        label
        for label in labels
        for outer, inner in _our_label_pairs(label)
        if inner.startswith(outer) or outer.startswith(inner)
    ]
    assert repeated == []
