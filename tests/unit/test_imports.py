"""transforms.imports: files listed, parsed by their layout's parser, and made rows.

The inputs are the simulator's own exports (`simulator.takeout_fitbit`,
`simulator.takeout_google`, `simulator.legacy_archive`) for one user and one day,
written under `tmp_path`, without the heart-rate files (tens of thousands of rows
that prove nothing more here). The expected rows are what the real parsers give
for the same files, read directly (`history.*.parse`) and made rows by
`rows_for_point`; `ImportFiles` runs in a `TestPipeline` and must give exactly
those rows, one `load_windows` row per unit, the dead letters and the counters.

Run:

    python -m pytest -q tests/unit/test_imports.py
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import json
import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import apache_beam as beam
import pytest
from apache_beam import pvalue
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from history import legacy
from history import takeout_fitbit as tf
from history import takeout_google as tg
from history.units import ImportUnit, MalformedFile, ParseContext
from rows.datapoints import TABLE_OF, RowContext, rows_for_point
from simulator import legacy_archive, synth
from simulator import takeout_fitbit as fitbit_export
from simulator import takeout_google as google_export
from transforms import imports
from transforms.dead_letters import DeadLetter

NOW = dt.datetime(2026, 11, 28, 23, 59, tzinfo=dt.UTC)
NOW_TEXT = "2026-11-28T23:59:00.000000Z"
INGEST = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
RUN = "import-takeout-20261128T120000Z-a1b2c3"
LEGACY_RUN = "import-legacy-20261128T120000Z-a1b2c3"
USER_KEY = "p-0042"
DAY = dt.date(2026, 11, 3)  # the simulator's user-1 logs an exercise this day
LEGACY_DAY = dt.date(2026, 10, 30)
# What the Fitbit layout holds that the Google Health layout holds too.
BOTH_LAYOUTS = {"steps", "distance", "daily-resting-heart-rate"}
LOAD = "<load id>"


def fixed_clock() -> dt.datetime:
    """The composites' `clock=` (module level, so it pickles)."""
    return NOW


def counters(result) -> dict[str, int]:
    found = result.metrics().query(MetricsFilter().with_namespace("fitbeam"))["counters"]
    out: dict[str, int] = collections.Counter()
    for c in found:
        out[c.key.metric.name] += c.committed
    return {k: v for k, v in out.items() if v}


def _without_heart_rate(files: dict[str, bytes]) -> dict[str, bytes]:
    return {p: d for p, d in files.items() if "/heart_rate-" not in p and "/heart_rate_2" not in p}


@pytest.fixture(scope="module")
def user():
    return synth.make_user(0, 1, dt.date(2026, 10, 1))


@pytest.fixture(scope="module")
def members(user) -> dict[str, bytes]:
    """Both layouts of one export, as a Takeout of 2026 can hold them."""
    fitbit = _without_heart_rate(fitbit_export.export_files(user, DAY, DAY))
    google = _without_heart_rate(google_export.export_files(user, DAY, DAY)[0])
    return {**fitbit, **google}


def _write_zip(path: Path, members: dict[str, bytes]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return str(path)


# --------------------------------------------------------------------------- what to expect


def _units(parser, name: str, data: bytes, ctx: ParseContext) -> list[ImportUnit]:
    return [u for u in parser.parse(name, data, ctx) if isinstance(u, ImportUnit)]


def _rows(unit: ImportUnit, run_id: str) -> list[tuple[str, dict]]:
    """A unit's rows as the import stamps them, its load id written LOAD."""
    if unit.table:
        stamp = {"run_id": run_id, "ingest_time": INGEST, "load_id": LOAD}
        return [(unit.table, {**row, **stamp}) for row in unit.rows]
    ctx = RowContext(unit.user_key, run_id, INGEST, LOAD)
    out = []
    for point in unit.points:
        out += rows_for_point(unit.data_type, point, ctx, "reconciled")
    return out


def _load_row(unit: ImportUnit, rows: list, run_id: str, origin: str) -> dict:
    table = unit.table or TABLE_OF[unit.data_type]
    if unit.data_point_id:
        start = end = None
        civil_date = rows[0][1]["civil_date"]
    else:
        start = dt.datetime.fromisoformat(unit.start)
        end = dt.datetime.fromisoformat(unit.end)
        civil_date = start.date()
    return {
        "user_key": unit.user_key,
        "civil_date": civil_date,
        "table_name": table,
        "stream": "reconciled",
        "window_start": start,
        "window_end": end,
        "data_point_id": unit.data_point_id or None,
        "row_count": len(rows),
        "loaded_at": NOW,
        "load_id": LOAD,
        "record_key": LOAD,
        "run_id": run_id,
        "ingest_time": INGEST,
        "origin": origin,
        "answered_at": None,
        "source_uri": unit.source,
    }


def _text(pair) -> tuple[str, str]:
    """A (table, row) pair as sortable text (rows hold lists and dates)."""
    table, row = pair
    return table, json.dumps(row, sort_keys=True, default=repr)


def _expected(units: list[ImportUnit], run_id: str, origin: str) -> tuple[list, list, list]:
    """(data rows, load rows, (source, table, row_count) per unit) as the import makes them."""
    rows, loads, counts = [], [], []
    for unit in units:
        made = _rows(unit, run_id)
        rows += made
        load = _load_row(unit, made, run_id, origin)
        loads.append(("load_windows", load))
        counts.append((unit.source, load["table_name"], len(made)))
    return [_text(r) for r in rows], [_text(r) for r in loads], counts


def _normalised(pair):
    """The import's (table, row) with its random load id written LOAD, if it is well formed."""
    table, row = pair
    load_id = row.get("load_id") or ""
    if not load_id.startswith(row["run_id"] + "-") or len(load_id) != len(row["run_id"]) + 17:
        return _text(pair)  # left as it is: the comparison shows it
    row = {**row, "load_id": LOAD}
    if table == "load_windows" and row["record_key"] == load_id:
        row["record_key"] = LOAD
    return _text((table, row))


def _rows_per_load(rows):
    """Per load: (its source, table, row_count, the rows that carry its load id)."""

    def key(pair):
        return pair[1]["load_id"], pair

    keyed = rows | "KeyByLoad" >> beam.Map(key)

    def meet(keyed_group):
        _, pairs = keyed_group
        loads = [row for table, row in pairs if table == "load_windows"]
        data = [table for table, _ in pairs if table != "load_windows"]
        if len(loads) != 1:
            return [("rows without a load", tuple(sorted(data)))]
        load = loads[0]
        wrong = [t for t in data if t != load["table_name"]]
        return [(load["source_uri"], load["table_name"], len(data) - len(wrong))] + [
            ("row of another table", t) for t in wrong
        ]

    return keyed | "ByLoad" >> beam.GroupByKey() | "Meet" >> beam.FlatMap(meet)


def _split(rows):
    data = rows | "Data" >> beam.Filter(lambda pair: pair[0] != "load_windows")
    loads = rows | "Loads" >> beam.Filter(lambda pair: pair[0] == "load_windows")
    return data | "NormData" >> beam.Map(_normalised), loads | "NormLoads" >> beam.Map(_normalised)


# --------------------------------------------------------------------------- list_sources


def test_a_plain_file_is_named_relative_to_the_import_root(tmp_path):
    path = f"{tmp_path}/export/Takeout/Fitbit/Global Export Data/steps-2026-11-03.json"
    assert list(imports.list_sources(path, f"{tmp_path}/export/")) == [
        imports.Source(path, "Takeout/Fitbit/Global Export Data/steps-2026-11-03.json")
    ]
    assert imports.Source(path, "x").name == path


@pytest.mark.parametrize(
    ("path", "member"),
    [
        # A single file: from its Takeout/ folder on.
        (
            "gs://b/dl/Takeout/Fitbit/Global Export Data/steps-2026-11-03.json",
            "Takeout/Fitbit/Global Export Data/steps-2026-11-03.json",
        ),
        # Else its last three parts, as a legacy file is named.
        (
            "gs://old/x/get_sleep_by_date/20261030/get_sleep_by_date_A1.json",
            "get_sleep_by_date/20261030/get_sleep_by_date_A1.json",
        ),
    ],
)
def test_a_file_outside_the_root_is_named_from_its_own_path(path, member):
    for root in ("", "/elsewhere"):
        assert list(imports.list_sources(path, root)) == [imports.Source(path, member)]


def test_a_zip_is_its_members_without_folders(tmp_path):
    path = tmp_path / "Export.ZIP"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Takeout/", b"")
        archive.writestr("Takeout/Fitbit/Global Export Data/steps-2026-11-03.json", b"[]")
        archive.writestr("/weight.csv", b"")
    sources = list(imports.list_sources(str(path), str(tmp_path)))
    assert sources == [
        imports.Source(str(path), "Takeout/Fitbit/Global Export Data/steps-2026-11-03.json", True),
        imports.Source(str(path), "weight.csv", True),
    ]
    assert [s.name for s in sources] == [
        f"{path}!Takeout/Fitbit/Global Export Data/steps-2026-11-03.json",
        f"{path}!weight.csv",
    ]


def test_a_file_that_is_not_a_zip_cannot_be_listed(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"not a zip")
    with pytest.raises(zipfile.BadZipFile):
        list(imports.list_sources(str(path), str(tmp_path)))


# --------------------------------------------------------------------------- the DoFn


def _parse_fn(
    layout=imports.TAKEOUT, root="", user_key=USER_KEY, zone="America/New_York", users=None
):
    fn = imports._ParseFilesFn(layout, root, user_key, zone, users or {}, fixed_clock)
    fn.setup()
    return fn


def test_a_fitbit_file_is_read_unless_the_google_layout_holds_its_type(tmp_path, members, user):
    member = f"Takeout/Fitbit/Global Export Data/steps-{DAY}.json"
    path = tmp_path / member
    path.parent.mkdir(parents=True)
    path.write_bytes(members[member])
    ctx = ParseContext(USER_KEY, ZoneInfo("America/New_York"), str(path))
    expected = _units(tf, member, members[member], ctx)
    assert [u.data_type for u in expected] == ["steps"]
    fn = _parse_fn(root=str(tmp_path))
    assert list(fn.process(str(path), frozenset())) == expected
    assert list(fn.process(str(path), frozenset({"steps", "distance"}))) == []


def test_the_fn_dead_letters_a_zip_it_cannot_open(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK not really")
    (out,) = _parse_fn(root=str(tmp_path)).process(str(path), frozenset())
    assert isinstance(out, pvalue.TaggedOutput)
    assert out.tag == "dead_letter"
    # Its user_key is held by test_a_corrupt_zips_letter_names_whose_export_it_is.
    assert dataclasses.replace(out.value, user_key="") == DeadLetter(
        stage="import",
        original={"file": str(path), "layout": "takeout"},
        error_class="MalformedFile",
        message=f"{path}: not a readable zip file (File is not a zip file)",
        timestamp=NOW_TEXT,
        replayable=False,
    )


# --------------------------------------------------------------------------- a Takeout export


def _takeout_expected(members: dict[str, bytes], user, container: str):
    """The units the parsers give for the export's files, by the superseded rule."""
    zone = ZoneInfo(user.time_zone)
    units = []
    for member, data in members.items():
        ctx = ParseContext(USER_KEY, zone, f"{container}!{member}")
        if isinstance(tg.classify(member), str):
            units += _units(tg, member, data, ctx)
        held = tf.classify(member)
        if isinstance(held, str) and held not in BOTH_LAYOUTS:
            units += _units(tf, member, data, ctx)
    return units


def test_the_export_holds_types_in_both_layouts(members):
    fitbit = {tf.classify(m) for m in members} - {None}
    google = {tg.classify(m) for m in members} - {None}
    assert {t for t in fitbit & google if isinstance(t, str)} == BOTH_LAYOUTS


def test_a_takeout_zip_gives_the_parsers_rows_once(tmp_path, members, user):
    container = _write_zip(tmp_path / "takeout-20261206.zip", members)
    units = _takeout_expected(members, user, container)
    rows, loads, per_load = _expected(units, RUN, "takeout")
    tables = collections.Counter(table for table, _ in rows)
    # Steps and distance from the Google Health CSVs only; sleep, exercise and
    # HRV from the Fitbit JSON; no heart rate.
    assert set(tables) == {
        "steps",
        "distance",
        "daily_resting_heart_rate",
        "active_energy_burned",
        "sedentary_period",
        "heart_rate_variability",
        "oxygen_saturation",
        "daily_respiratory_rate",
        "daily_oxygen_saturation",
        "weight",
        "body_fat",
        "sleep",
        "exercise",
        "daily_heart_rate_variability",
    } - {t for t in ("weight", "body_fat", "daily_respiratory_rate") if not tables[t]}
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "takeout", container, RUN, INGEST, USER_KEY, user.time_zone, clock=fixed_clock
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(_rows_per_load(out["rows"]), equal_to(per_load), label="rows per load")
    assert_that(out["dead_letter"], equal_to([]), label="dead letters")
    result = p.run()
    result.wait_until_finish()
    fitbit_files = sum(1 for m in members if m.startswith("Takeout/Fitbit/"))
    google_files = len(members) - fitbit_files
    assert (fitbit_files, google_files) == (8, 23)
    assert counters(result) == {
        # Files that gave data: the Fitbit sleep, exercise and HRV summary files, and
        # 14 Google Health CSVs.
        "import_files_read": 3 + 14,
        "import_units": len(units),
        # The Fitbit steps, distance and resting heart rate files.
        "import_files_skipped/superseded": 3,
        # One sensor token per layout, and Google's activity probabilities.
        "import_files_skipped/not_health": 3,
        # Fitbit altitude; Google's calories (two UTC days).
        "import_files_skipped/unmapped": 3,
        # Google's Biometrics glucose file.
        "import_files_skipped/unknown": 1,
        # Read, and found to hold "no data": the second UTC day's HRV, SpO2,
        # sedentary periods and body fat.
        "import_files_skipped/no_data": 4,
    }


def test_a_takeout_folder_names_its_files_by_path(tmp_path, members, user):
    google = {
        m: d for m, d in members.items() if m.startswith("Takeout/Google Health/") and len(d) < 2000
    }
    root = tmp_path / "export"
    for member, data in google.items():
        (root / member).parent.mkdir(parents=True, exist_ok=True)
        (root / member).write_bytes(data)
    zone = ZoneInfo(user.time_zone)
    units = []
    for member, data in google.items():
        if isinstance(tg.classify(member), str):
            units += _units(tg, member, data, ParseContext(USER_KEY, zone, f"{root}/{member}"))
    rows, loads, _ = _expected(units, RUN, "takeout")
    assert len(rows) > 5
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "takeout", f"{root}/", RUN, INGEST, USER_KEY, user.time_zone, clock=fixed_clock
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(out["dead_letter"], equal_to([]), label="dead letters")
    p.run().wait_until_finish()


def test_a_corrupt_zip_is_one_dead_letter_and_the_rest_is_imported(tmp_path, members, user):
    folder = tmp_path / "exports"
    broken = folder / "broken.zip"
    folder.mkdir()
    broken.write_bytes(b"PK\x03\x04 cut short")
    weight = "Takeout/Google Health/Physical Activity_GoogleData/daily_resting_heart_rate.csv"
    good = _write_zip(folder / "good.zip", {weight: members[weight]})
    units = _units(
        tg,
        weight,
        members[weight],
        ParseContext(USER_KEY, ZoneInfo(user.time_zone), f"{good}!{weight}"),
    )
    rows, loads, _ = _expected(units, RUN, "takeout")
    assert len(rows) == 1
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "takeout", str(folder), RUN, INGEST, USER_KEY, user.time_zone, clock=fixed_clock
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(
        out["dead_letter"] | beam.Map(dataclasses.replace, user_key=""),
        equal_to(
            [
                DeadLetter(
                    stage="import",
                    original={"file": str(broken), "layout": "takeout"},
                    error_class="MalformedFile",
                    message=f"{broken}: not a readable zip file (File is not a zip file)",
                    timestamp=NOW_TEXT,
                    replayable=False,
                )
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result) == {
        "import_files_read": 1,
        "import_units": 1,
        "dead_letters_import": 1,
    }


def test_a_malformed_member_is_a_dead_letter_naming_it(tmp_path, members, user):
    steps = f"Takeout/Google Health/Physical Activity_GoogleData/steps_{DAY}.csv"
    bad = f"Takeout/Google Health/Physical Activity_GoogleData/distance_{DAY}.csv"
    bad_data = b"when,how far\n2026-11-03T10:00:00Z,12\n"
    container = _write_zip(tmp_path / "t.zip", {steps: members[steps], bad: bad_data})
    zone = ZoneInfo(user.time_zone)
    with pytest.raises(MalformedFile) as raised:
        list(tg.parse(bad, bad_data, ParseContext(USER_KEY, zone, f"{container}!{bad}")))
    units = _units(tg, steps, members[steps], ParseContext(USER_KEY, zone, f"{container}!{steps}"))
    rows, loads, _ = _expected(units, RUN, "takeout")
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "takeout", container, RUN, INGEST, USER_KEY, user.time_zone, clock=fixed_clock
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(
        out["dead_letter"],
        equal_to(
            [
                DeadLetter(
                    stage="import",
                    original={"file": f"{container}!{bad}", "layout": "takeout"},
                    error_class="MalformedFile",
                    message=str(raised.value),
                    timestamp=NOW_TEXT,
                    user_key=USER_KEY,
                    replayable=False,
                )
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    assert str(raised.value).startswith("distance_2026-11-03.csv: unexpected header 'when,how far'")
    assert counters(result) == {
        "import_files_read": 1,
        "import_units": 1,
        "dead_letters_import": 1,
    }


# --------------------------------------------------------------------------- the legacy archive


@pytest.fixture(scope="module")
def legacy_root(tmp_path_factory) -> tuple[Path, list]:
    """Two legacy users' archive of one day (30 s heart rate: 2,800 rows)."""
    root = tmp_path_factory.mktemp("legacy") / "archive"
    users = legacy_archive.default_users()[:2]
    counts = legacy_archive.write_archive(users, LEGACY_DAY, LEGACY_DAY, root)
    assert counts == {
        "get_activity_summary_by_date": 2,
        "get_heart_rate_by_date": 2,
        "get_body_weight_by_date": 2,
        "get_cardio_score_by_date": 2,
        "get_sleep_by_date": 2,
        "get_activity_tcx_by_id": counts["get_activity_tcx_by_id"],
        "get_activity_details_by_id": 1,
    }
    return root, users


def _legacy_files(root: Path, legacy_id: str) -> list[Path]:
    return sorted(p for p in root.rglob(f"*_{legacy_id}.*") if p.is_file())


def test_a_study_archive_maps_each_legacy_user_and_dead_letters_the_others(legacy_root):
    root, (mapped, unmapped) = legacy_root
    zone = ZoneInfo(mapped.time_zone)
    units = []
    for path in _legacy_files(root, mapped.legacy_user_id):
        member = path.relative_to(root).as_posix()
        if isinstance(legacy.classify(member), str):
            units += _units(
                legacy, member, path.read_bytes(), ParseContext("p-0001", zone, str(path))
            )
    rows, loads, per_load = _expected(units, LEGACY_RUN, "legacy")
    strays = [
        p
        for p in _legacy_files(root, unmapped.legacy_user_id)
        if isinstance(legacy.classify(p.relative_to(root).as_posix()), str)
    ]
    assert len(strays) >= 5
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "legacy",
        str(root),
        LEGACY_RUN,
        INGEST,
        legacy_users=(
            (mapped.legacy_user_id, "p-0001", mapped.time_zone),
            ("ZZZZZZ", "p-0009", "UTC"),
        ),
        clock=fixed_clock,
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(_rows_per_load(out["rows"]), equal_to(per_load), label="rows per load")
    assert_that(
        out["dead_letter"],
        equal_to(
            [
                DeadLetter(
                    stage="import",
                    original={"file": str(path), "layout": "legacy"},
                    error_class="MalformedFile",
                    message=f"{path.relative_to(root).as_posix()}: the legacy user id "
                    f"'{unmapped.legacy_user_id}' is not in --legacy_users",
                    timestamp=NOW_TEXT,
                    replayable=False,
                )
                for path in strays
            ]
        ),
        label="dead letters",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result) == {
        "import_files_read": len(_legacy_files(root, mapped.legacy_user_id)) - 1,
        "import_units": len(units),
        "import_files_skipped/unknown": 1,  # the activity details nobody reads
        "dead_letters_import": len(strays),
    }
    assert {table for table, _ in rows} >= {"heart_rate", "legacy_daily_activity", "sleep"}


def test_a_legacy_archive_loaded_as_one_user(legacy_root):
    root, (first, _) = legacy_root
    only_first = root.parent / "one"
    for path in _legacy_files(root, first.legacy_user_id):
        target = only_first / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    zone = ZoneInfo(first.time_zone)
    units = []
    for path in _legacy_files(only_first, first.legacy_user_id):
        member = path.relative_to(only_first).as_posix()
        if isinstance(legacy.classify(member), str):
            ctx = ParseContext(USER_KEY, zone, str(path))
            units += _units(legacy, member, path.read_bytes(), ctx)
    rows, loads, _ = _expected(units, LEGACY_RUN, "legacy")
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "legacy", str(only_first), LEGACY_RUN, INGEST, USER_KEY, first.time_zone, clock=fixed_clock
    )
    data, load_rows = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    assert_that(load_rows, equal_to(loads), label="load rows")
    assert_that(out["dead_letter"], equal_to([]), label="dead letters")
    p.run().wait_until_finish()


def test_a_glob_over_a_legacy_folder_imports_what_the_folder_does(legacy_root):
    """Files matched by a glob are named from the part before its wildcard, so the legacy
    parser still reads `{endpoint}/{YYYYMMDD}/...` from their names."""
    root, (first, _) = legacy_root
    folder = root.parent / "glob"
    for path in _legacy_files(root, first.legacy_user_id):
        if "heart_rate" not in path.name and path.suffix == ".json":
            target = folder / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    zone = ZoneInfo(first.time_zone)
    units = []
    for path in _legacy_files(folder, first.legacy_user_id):
        member = path.relative_to(folder).as_posix()
        if isinstance(legacy.classify(member), str):
            ctx = ParseContext(USER_KEY, zone, str(path))
            units += _units(legacy, member, path.read_bytes(), ctx)
    rows, _, _ = _expected(units, LEGACY_RUN, "legacy")
    assert len(rows) > 3
    p = test_pipeline.TestPipeline()
    out = p | imports.ImportFiles(
        "legacy", f"{folder}/**", LEGACY_RUN, INGEST, USER_KEY, first.time_zone, clock=fixed_clock
    )
    data, _ = _split(out["rows"])
    assert_that(data, equal_to(rows), label="rows")
    p.run().wait_until_finish()


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            dict(layout="fitbit", run_id=RUN, user_key=USER_KEY, time_zone="UTC"),
            "layout 'fitbit' is not 'takeout' or 'legacy'",
        ),
        (
            dict(layout="takeout", run_id="run-1", user_key=USER_KEY, time_zone="UTC"),
            "run_id 'run-1' must start with 'import-', e.g. import-takeout-20261206T120000Z-a1b2c3",
        ),
        (
            dict(layout="takeout", run_id=RUN, user_key=USER_KEY),
            "an import needs user_key and time_zone, or legacy_users",
        ),
        (
            dict(layout="legacy", run_id=RUN, time_zone="UTC"),
            "an import needs user_key and time_zone, or legacy_users",
        ),
    ],
)
def test_import_files_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError) as raised:
        imports.ImportFiles(path="x.zip", ingest_time=INGEST, **args)
    assert str(raised.value) == message


# --------------------------------------------------------------------------- known bugs
# These fail against the code as committed (see the commit message).


def test_a_corrupt_zips_letter_names_whose_export_it_is(tmp_path):
    """A Takeout is one person's: its unreadable zip is theirs, as its members' letters
    are (`user_key=self.user_key`); `fitbeam forget` finds a participant's dead-letter
    lines by their key, and a zip's path need not name it. `_ParseFilesFn._dead`
    defaults user_key to None (DeadLetter.user_key is a str, "" when unknown)."""
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK not really")
    (out,) = _parse_fn(root=str(tmp_path)).process(str(path), frozenset())
    assert out.value.user_key == USER_KEY
