"""The whole graph of `fitbeam run` on the DirectRunner, against the simulator, without BigQuery.

`build_pipeline` is run as `fitbeam run` builds it, from flags through
`pipeline.options.resolve`; only its BigQuery write is replaced, by
`RefusingTables`, which refuses every weight row as BigQuery refuses a bad
insert (so that the write's dead letters are seen to reach the sink). The
rows that reach the write must be exactly the simulator's ground truth (detail
fan-out included), each load's row count its rows, and every dead letter must
be in the graph's output and in the dead-letter file, exactly.

The stand-in goes in through `build_pipeline`'s `write_tables=` seam, built
from the run's config as the real write is.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import hashlib
import json
import re

import apache_beam as beam
import pytest
import requests
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from healthapi import datatypes, user_resources
from healthapi.auth import oauth
from healthapi.auth.file_store import LocalFileTokenStore
from healthapi.client import HealthApiClient
from healthapi.elements import STREAM_RECONCILED, ApiCall
from healthapi.messages import request_message
from localdev.demo import authorise_users
from pipeline import build
from pipeline.options import resolve
from rows import datapoints, tcx
from schemas.convert import TableRow
from simulator import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator
from tests.transforms.conftest import (
    NOW,
    NOW_TEXT,
    WALL,
    fixed_clock,
    no_wait,
    sim_config,
    wall_stamped,
)
from tests.unit.test_rows import STEPS_RAW_ROW
from transforms.dead_letters import DeadLetter

TODAY = dt.date(2026, 11, 28)
SCOPE_BODY = (
    '{"error":{"code":403,"message":"Request had insufficient authentication scopes.",'
    '"status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",'
    '"reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com","metadata":'
    '{"service":"health.googleapis.com","method":'
    '"google.devicesandservices.health.v4.DataPointsService.ExportExerciseTcx"}}]}}'
)
INGEST = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
# user-1 weighs in, user-2 weighs in and runs: every table of the request has rows.
DAY = dt.date(2026, 11, 22)
WINDOW = (dt.datetime(2026, 11, 22), dt.datetime(2026, 11, 23))  # the civil window of DAY
TYPES = ("steps", "exercise", "weight", "total-calories")
REFUSED_TABLE = "weight"
LOAD_ID = "<load id>"
_LOAD_ID = re.compile(r"graph-[a-z]+-[0-9a-f]{16}")


class RefusingTables(beam.PTransform):
    """Stands in for WriteTables: keeps its arguments, refuses every row of REFUSED_TABLE."""

    made: list[RefusingTables] = []

    def __init__(self, dataset: str, method: str, gcs_temp_location: str | None = None):
        super().__init__()
        self.args = (dataset, method, gcs_temp_location)
        self.received = None
        RefusingTables.made.append(self)

    def expand(self, rows):
        self.received = rows
        return rows | "Refuse" >> beam.FlatMap(_refused)


def _refused(row):
    if row.table == REFUSED_TABLE:
        yield refusal(dict(row))


def refusal(row: dict) -> DeadLetter:
    return DeadLetter(
        stage="bigquery",
        original=row,
        error_class="BigQueryInsertError",
        message="refused by the stand-in",
        timestamp=NOW_TEXT,
        user_key=row["user_key"],
        table=REFUSED_TABLE,
    )


@pytest.fixture
def tables() -> list[RefusingTables]:
    RefusingTables.made = []
    return RefusingTables.made


def refusing_tables(cfg) -> RefusingTables:
    return RefusingTables(cfg.dataset, cfg.bq_write_method, cfg.temp_location or None)


def config(sim, tokens, tmp_path, run_id: str, *flags: str):
    argv = [
        f"--api_base_url={sim.base_url}",
        f"--token_store={tokens.root}",
        "--dataset=my-project:fitbit",
        f"--dead_letter_root={tmp_path / 'dead-letters'}",
        "--temp_location=gs://my-bucket/tmp",
        f"--run_id={run_id}",
        "--max_attempts=2",
        "--user_tables=false",  # the user-level branch has tests of its own
        *flags,
    ]
    return resolve(PipelineOptions(argv), today=TODAY)


def run_graph(cfg):
    """The graph on the DirectRunner; `out["rows"]` is every branch's valid rows, flattened."""
    p = test_pipeline.TestPipeline()
    out = build.build_pipeline(
        p, cfg, INGEST, sleep=no_wait, clock=fixed_clock, write_tables=refusing_tables
    )
    branches = out["rows"]
    out = {**out, "branches": branches, "rows": branches | "EveryBranch" >> beam.Flatten()}
    return p, out


# -- what the rows must be -------------------------------------------------------------


def row_keys(row) -> tuple:
    """A row as (table, user, record key); a load row as its user, table, window and count."""
    table = row.table
    if table == "load_windows":
        start, end = (
            row[k] and dt.datetime.fromisoformat(row[k]) for k in ("window_start", "window_end")
        )
        return (table, row["user_key"], row["table_name"], start, end, row["row_count"])
    return table, row["user_key"], row["record_key"]


def expected_keys(sim, tokens, user: str, data_type: str) -> list[tuple]:
    """(table, user, record key) of the day's rows of one request, and its load rows."""
    ctx = datapoints.RowContext(user, "x", INGEST)
    if data_type == "total-calories":
        days = {t["civilDate"] for t in sim.ground_truth(user, data_type, DAY, DAY)}
        table = datatypes.SUMMARY_TABLE
        keys = [
            (table, user, datapoints.record_key(table, {"user_key": user, "civil_date": d}))
            for d in sorted(dt.date.fromisoformat(d) for d in days)
        ]
        return [*keys, ("load_windows", user, table, *WINDOW, len(keys))]
    table = datatypes.spec(data_type).table
    keys, loads = [], []
    for truth in sim.ground_truth(user, data_type, DAY, DAY, reconciled=True):
        for row_table, row in datapoints.rows_for_point(
            data_type, truth["dataPoint"], ctx, STREAM_RECONCILED
        ):
            keys.append((row_table, user, row["record_key"]))
            if row_table == "exercise":
                trackpoints = tcx.trackpoint_rows(exported_tcx(sim, tokens, user, row), row, ctx)
                keys += [(t, user, r["record_key"]) for t, r in trackpoints]
                # A TCX load has no window.
                loads.append(("load_windows", user, tcx.TABLE, None, None, len(trackpoints)))
    count = sum(1 for k in keys if k[0] == table)
    return [*keys, ("load_windows", user, table, *WINDOW, count), *loads]


def exported_tcx(sim, tokens, user: str, exercise_row: dict) -> str:
    """The exercise's TCX export, asked of the simulator with the user's stored token."""
    client = HealthApiClient(requests.Session(), sim.base_url)
    return client.export_tcx(tokens.load(user)["access_token"], exercise_row["data_point_id"])


def loads_without_their_rows(rows: list) -> list[tuple]:
    """Loads whose row count is not the number of rows carrying their id, and orphan ids."""
    loads = {r["load_id"]: r for r in rows if r.table == "load_windows"}
    carried = collections.Counter(r["load_id"] for r in rows if r.table != "load_windows")
    wrong = [
        (r["user_key"], r["table_name"], r["row_count"], carried.get(load_id, 0))
        for load_id, r in loads.items()
        if r["row_count"] != carried.get(load_id, 0)
    ]
    return wrong + [("no load row", load_id) for load_id in carried if load_id not in loads]


def comparable(letter: DeadLetter) -> str:
    """A letter as sorted-key JSON, its stamp masked and a refused row named by its record key.

    Only the request parser is given the graph's clock: the fetch and validation
    stamp their letters with the wall clock. A refused row's load id is random.
    """
    letter = wall_stamped(letter)
    line = json.loads(letter.to_json())
    original = line["original"]
    if letter.stage == "bigquery":
        line["original"] = original["record_key"]
    elif isinstance(original, dict) and isinstance(original.get("parent"), dict):
        # A detail call's parent is its exercise row, with the exercise's load id.
        parent = original["parent"]
        if _LOAD_ID.fullmatch(str(parent.get("load_id"))):
            parent["load_id"] = LOAD_ID
    return json.dumps(line, sort_keys=True)


def written(tmp_path, run_id: str) -> list[str]:
    """The letters in the run's dead-letter file, as `comparable` makes them."""
    [file] = list((tmp_path / "dead-letters" / run_id).iterdir())
    return [comparable(DeadLetter(**json.loads(line))) for line in file.read_text().splitlines()]


# -- the graph -------------------------------------------------------------------------


def test_users_from_the_command_line_load_the_ground_truth_and_every_failure_is_a_letter(
    sim, tokens, tmp_path, tables
):
    run_id = "graph-cli"
    cfg = config(
        sim,
        tokens,
        tmp_path,
        run_id,
        "--users=user-1,user-2,user-9",  # user-9 never consented
        f"--start_date={DAY}",
        f"--end_date={DAY}",
        f"--data_types={','.join(TYPES)}",
    )
    expected = [
        key
        for user in ("user-1", "user-2")
        for t in TYPES
        for key in expected_keys(sim, tokens, user, t)
    ]
    loaded = {k[0] for k in expected} | {k[2] for k in expected if k[0] == "load_windows"}
    assert {tcx.TABLE, datatypes.SUMMARY_TABLE, REFUSED_TABLE} <= loaded, "the day needs these"
    needs_consent = [
        DeadLetter(
            stage="fetch",
            original=call,
            error_class="NEEDS_CONSENT",
            message="user 'user-9' must consent again: no token in the token store",
            timestamp=WALL,
            user_key="user-9",
        )
        for call in (
            ApiCall("user-9", "list", "steps", "2026-11-22", "2026-11-23"),
            ApiCall("user-9", "list", "exercise", "2026-11-22", "2026-11-23"),
            ApiCall("user-9", "list", "weight", "2026-11-22", "2026-11-23"),
            ApiCall("user-9", "summary", "daily-activity-summary", "2026-11-22", "2026-11-23"),
        )
    ]
    refused = [
        refusal({"user_key": user, "record_key": record_key})
        for table, user, record_key, *_ in expected
        if table == REFUSED_TABLE
    ]
    letters = [comparable(d) for d in needs_consent + refused]

    p, out = run_graph(cfg)
    assert_that(out["rows"] | "Keys" >> beam.Map(row_keys), equal_to(expected), label="rows")
    assert_that(
        out["rows"]
        | "EveryRow" >> beam.combiners.ToList()
        | "LoadsWithoutRows" >> beam.Map(loads_without_their_rows),
        equal_to([[]]),
        label="load ids",
    )
    assert_that(
        out["dead_letters"] | "Comparable" >> beam.Map(comparable),
        equal_to(letters),
        label="dead letters",
    )
    p.run().wait_until_finish()

    # Each branch (the main rows, the detail rows) is written by a write of its own.
    assert [made.args for made in tables] == [
        ("my-project:fitbit", "FILE_LOADS", "gs://my-bucket/tmp")
    ] * 2
    assert [made.received for made in tables] == list(out["branches"])
    assert sorted(written(tmp_path, run_id)) == sorted(letters)


def test_a_requests_file_loads_its_good_messages_and_letters_its_bad_ones(
    sim, tokens, tmp_path, tables
):
    run_id = "graph-file"
    requests_file = tmp_path / "requests.jsonl"
    requests_file.write_bytes(
        request_message("user-1", DAY, data_types=["steps"]) + b"\n\nnot json\n"
    )
    cfg = config(sim, tokens, tmp_path, run_id, f"--requests_file={requests_file}")
    bad = DeadLetter(
        stage="parse_request",
        original={"message": "not json"},
        error_class="not_json",
        message="not JSON: Expecting value at line 1 column 1",
        timestamp=NOW_TEXT,
        replayable=False,
    )

    p, out = run_graph(cfg)
    assert_that(
        out["rows"] | "Keys" >> beam.Map(row_keys),
        equal_to(expected_keys(sim, tokens, "user-1", "steps")),
        label="rows",
    )
    assert_that(out["dead_letters"], equal_to([bad]), label="dead letters")
    p.run().wait_until_finish()

    assert written(tmp_path, run_id) == [comparable(bad)]


def test_a_replay_fetches_the_failed_calls_again_and_validates_the_refused_rows_again(
    sim, tokens, tmp_path, tables
):
    run_id = "graph-replay"
    call = ApiCall("user-1", "list", "weight", "2026-11-22", "2026-11-23")
    still_bad = {**STEPS_RAW_ROW, "step_count": "57"}
    letters = [
        DeadLetter("fetch", call, "UNAVAILABLE", "m", NOW_TEXT, http_status=503, attempts=2),
        DeadLetter("schema", STEPS_RAW_ROW, "ValidationError", "m", NOW_TEXT, table="steps"),
        DeadLetter("schema", still_bad, "ValidationError", "m", NOW_TEXT, table="steps"),
    ]
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "dead-letters.jsonl").write_text(
        "\n".join(d.to_json() for d in letters) + "\n"
    )
    cfg = config(sim, tokens, tmp_path, run_id, f"--dead_letters={tmp_path}/old-run/*.jsonl")
    weights = expected_keys(sim, tokens, "user-1", "weight")
    assert len(weights) == 2, "user-1 weighs in once that day"
    again = DeadLetter(
        stage="schema",
        original=still_bad,
        error_class="ValidationError",
        message="[\n  \"fitbeam.tables.steps.step_count is <57> of type <class 'str'> "
        'expected long"\n]',
        timestamp=WALL,
        user_key=STEPS_RAW_ROW["user_key"],
        table="steps",
    )
    # The stand-in refuses weight rows again: a replayed call's rows reach the write.
    [weight_key] = [k[2] for k in weights if k[0] == REFUSED_TABLE]
    refused = refusal({"user_key": "user-1", "record_key": weight_key})

    p, out = run_graph(cfg)
    assert_that(
        out["rows"] | "Keys" >> beam.Map(row_keys),
        equal_to([*weights, row_keys(TableRow("steps", STEPS_RAW_ROW))]),
        label="rows",
    )
    assert_that(
        out["dead_letters"] | "Comparable" >> beam.Map(comparable),
        equal_to([comparable(again), comparable(refused)]),
        label="dead letters",
    )
    p.run().wait_until_finish()

    assert sorted(written(tmp_path, run_id)) == sorted([comparable(again), comparable(refused)])


def test_an_exercise_whose_tcx_is_refused_loads_and_its_detail_call_is_a_dead_letter(
    tmp_path, tables
):
    run_id = "graph-detail"
    denied = sim_config(denied_scopes={"user-2": frozenset({"location.readonly"})})
    with Simulator(denied) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, ["user-2"], store)  # user-2 keeps their location to themselves
        cfg = config(
            sim,
            store,
            tmp_path,
            run_id,
            "--users=user-2",
            f"--start_date={DAY}",
            f"--end_date={DAY}",
            "--data_types=exercise",
        )
        [truth] = sim.ground_truth("user-2", "exercise", DAY, DAY, reconciled=True)
        [(_, exercise)] = datapoints.rows_for_point(
            "exercise",
            truth["dataPoint"],
            datapoints.RowContext("user-2", run_id, INGEST),
            STREAM_RECONCILED,
        )
        refused = DeadLetter(
            stage="fetch_detail",
            original=ApiCall(
                "user-2",
                "tcx",
                "exercise",
                data_point_id=exercise["data_point_id"],
                parent=tuple({**exercise, "load_id": LOAD_ID}.items()),
            ),
            error_class="SCOPE_NOT_GRANTED",
            message=(
                "an exercise's TCX export needs the scopes "
                "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly and "
                "https://www.googleapis.com/auth/googlehealth.location.readonly, which user "
                "'user-2' did not grant: authorize the user again (fitbeam authorize), or "
                "leave exercise out of --data_types"
            ),
            timestamp=WALL,
            http_status=403,
            body=SCOPE_BODY,
            user_key="user-2",
            replayable=True,
        )

        p, out = run_graph(cfg)
        assert_that(
            out["rows"] | "Keys" >> beam.Map(row_keys),
            equal_to(
                [
                    ("exercise", "user-2", exercise["record_key"]),
                    ("load_windows", "user-2", "exercise", *WINDOW, 1),
                ]
            ),
            label="rows",
        )
        assert_that(
            out["dead_letters"] | "Comparable" >> beam.Map(comparable),
            equal_to([comparable(refused)]),
            label="dead letters",
        )
        p.run().wait_until_finish()

    assert written(tmp_path, run_id) == [comparable(refused)]


# -- the user-level branch -----------------------------------------------------------------

PROFILE_SCOPE = "https://www.googleapis.com/auth/googlehealth.profile.readonly"


def user_level_keys(sim, store, user: str, with_profile: bool) -> list[tuple]:
    """(table, user, record key) of a user's user-level rows, the devices as the API lists
    them: a device's record is its day (the graph's clock: NOW's date), the others' the
    user."""
    token = store.load(user)["access_token"]
    listed = requests.get(
        f"{sim.base_url}/v4/users/me/pairedDevices",
        params={"pageSize": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()["pairedDevices"]
    day = NOW.date().isoformat()
    keys = [
        ("paired_devices", user, sha(user, "paired_devices", d["name"].rsplit("/", 1)[1], day))
        for d in listed
    ]
    tables = ("user_settings", "irn_profile", *(("user_profile",) if with_profile else ()))
    return keys + [(table, user, sha(user, table)) for table in tables]


def sha(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def test_the_user_level_tables_load_once_per_user_beside_the_data_points(tmp_path, tables):
    run_id = "graph-user"
    with Simulator(sim_config()) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        client = oauth.OAuthClient.for_base_url(
            DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, sim.base_url
        )
        store.save_client(client.client_id, client.client_secret)
        every = sorted({*datatypes.scopes_for(["steps", "sleep"]), *user_resources.SCOPES})
        # user-2 did not grant the profile scope.
        for user, scopes in (
            ("user-1", every),
            ("user-2", [s for s in every if s != PROFILE_SCOPE]),
        ):
            store.save(user, oauth.authorize(client, scopes, login_hint=user, open_url=_visit))
        cfg = config(
            sim,
            store,
            tmp_path,
            run_id,
            "--users=user-1,user-2",
            f"--start_date={DAY}",
            f"--end_date={DAY}",
            "--data_types=steps,sleep",
            "--user_tables=true",
        )
        assert cfg.user_tables is True
        expected = [
            *expected_keys(sim, store, "user-1", "steps"),
            *expected_keys(sim, store, "user-1", "sleep"),
            *expected_keys(sim, store, "user-2", "steps"),
            *expected_keys(sim, store, "user-2", "sleep"),
            *user_level_keys(sim, store, "user-1", with_profile=True),
            *user_level_keys(sim, store, "user-2", with_profile=False),
        ]
        assert sum(1 for k in expected if k[0] == "paired_devices") >= 2
        missing_scope = DeadLetter(
            stage="fetch",
            original=ApiCall("user-2", "user", "profile"),
            error_class="SCOPE_NOT_GRANTED",
            message=f"users.getProfile needs the scope {PROFILE_SCOPE}, which user 'user-2' "
            "did not grant: authorize the user again (fitbeam authorize), or load "
            "without user tables (--user_tables=false)",
            timestamp=WALL,
            http_status=403,
            user_key="user-2",
        )

        p, out = run_graph(cfg)
        assert_that(out["rows"] | "Keys" >> beam.Map(row_keys), equal_to(expected), label="rows")
        assert_that(
            out["dead_letters"] | "NoBody" >> beam.Map(without_body),
            equal_to([missing_scope]),
            label="dead letters",
        )
        p.run().wait_until_finish()

    # Three branches (main, detail, user level), each written by a write of its own.
    assert len(tables) == 3
    assert [made.received for made in tables] == list(out["branches"])
    [letter] = written(tmp_path, run_id)
    assert json.loads(letter)["body"].startswith('{"error":{"code":403')
    assert {**json.loads(letter), "body": ""} == json.loads(comparable(missing_scope))


def without_body(letter: DeadLetter) -> DeadLetter:
    """The letter with its wall-clock stamp masked and the API's answer left out."""
    return dataclasses.replace(wall_stamped(letter), body="")


def _visit(url: str) -> None:
    requests.get(url, timeout=10)


def test_a_replayed_user_level_call_loads_its_table(sim, tokens, tmp_path, tables):
    run_id = "graph-user-replay"
    call = ApiCall("user-1", "user", "settings")
    letter = DeadLetter("fetch", call, "UNAVAILABLE", "m", NOW_TEXT, http_status=503, attempts=2)
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "dead-letters.jsonl").write_text(letter.to_json() + "\n")
    # The flag does not matter to a replay: what failed is carried out again.
    cfg = config(sim, tokens, tmp_path, run_id, f"--dead_letters={tmp_path}/old-run/*.jsonl")
    assert cfg.user_tables is False

    p, out = run_graph(cfg)
    assert_that(
        out["rows"] | "Keys" >> beam.Map(row_keys),
        equal_to([("user_settings", "user-1", sha("user-1", "user_settings"))]),
        label="rows",
    )
    assert_that(out["dead_letters"], equal_to([]), label="dead letters")
    p.run().wait_until_finish()
