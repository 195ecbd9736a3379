"""Fuzzing: no input, however malformed, raises out of the message parser or a DoFn.

Every stage that reads outside data is fed thousands of generated inputs from a seeded
`random.Random` (a failure names its case number, and the same seed makes the same
case): valid inputs mutated by byte flips, truncation, numbers past Python's 4300-digit
conversion limit, deep nesting, bytes that are not UTF-8, NaN and Infinity, duplicate
keys, wrong types, very long strings and digits of other scripts. Each input must give
outputs, or a dead letter with a reason that the dead-letter sink can write as JSON;
nothing may raise. What a stage passes on goes through the stages after it as well
(replayed calls are carried out against a fake API and their answers made into rows,
replayed and built rows are validated and turned into BigQuery JSON), so that no input
of one stage can fail the next.

Stages and their inputs:

- `healthapi.messages.parse_request` and `transforms.requests._ParseRequestsFn`: request
  messages (bytes, or Pub/Sub messages);
- `transforms.replay.ReplayDeadLettersFn`: lines of dead-letter files;
- `transforms.fetch.FetchFn`: API answers (bodies, statuses and content types);
- `transforms.rows._ToRowsFn`: ApiPages holding mutated points, roll-ups and TCX;
- `transforms.validate._ValidateRowsFn`: (table, row) pairs with mutated values.

Run:

    .venv/bin/python -m pytest -q tests/unit/test_fuzz.py
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import json
import random
import traceback
from collections.abc import Callable, Iterable

import requests
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.pvalue import TaggedOutput

from healthapi import calls, datatypes, planning
from healthapi.auth.store import check_user_key
from healthapi.client import HealthApiClient, HealthApiError, Page
from healthapi.elements import ApiCall, ApiPage, FetchRequest
from healthapi.messages import REASONS, BadRequest, parse_request, shown_message
from healthapi.nesting import nested_deeper_than
from healthapi.retry import RetryPolicy
from rows import datapoints
from schemas.bigquery import ALL_TABLES, USER_TABLES
from schemas.convert import TableRow, to_bigquery_json
from tests.unit.test_rows import SAMPLE_POINTS as OLDER_POINTS
from tests.unit.test_rows import TCX, legacy_rows
from tests.unit.test_rows_types import NEW_SAMPLE_POINTS
from transforms.dead_letters import DeadLetter
from transforms.fetch import FetchFn
from transforms.replay import ReplayDeadLettersFn
from transforms.requests import _ParseRequestsFn
from transforms.rows import _ToRowsFn
from transforms.validate import _ValidateRowsFn

SEED = 20261128
MESSAGES = 10_000
DEAD_LETTER_LINES = 2_000
PAGES = 2_000
ROWS = 1_500
API_ANSWERS = 800

UTC = dt.UTC
TODAY = dt.date(2026, 11, 28)
NOW = dt.datetime(2026, 11, 28, 12, tzinfo=UTC)
RUN_ID = "run-fuzz"
BASE_URL = "https://health.googleapis.com"

# --------------------------------------------------------------------------- raw JSON


class Raw(str):
    """JSON text written as is: numbers past the conversion limit, NaN, deep nesting."""


def dump(value: object) -> str:
    """JSON text of `value`, with `Raw` parts copied verbatim."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


def nested_text(rng: random.Random) -> str:
    depth = rng.choice([2, 31, 32, 33, 64, 65, 200, 500, 900, 990, 1100, 3000, 7000])
    if rng.random() < 0.5:
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def nested_value(rng: random.Random) -> object:
    """A Python value nested deep, as an API answer parsed by requests could be."""
    depth = rng.choice([33, 65, 200, 990, 2000])
    value: object = 1
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


OTHER_DIGITS = [
    "\uff12\uff10\uff12\uff16-\uff11\uff11-\uff12\uff17",  # full-width
    "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0667",  # Arabic-Indic
    "\u0968\u0966\u0968\u096c-\u0967\u0967-\u0968\u096d",  # Devanagari
    "\u00b2\u2070\u00b2\u2076-\u00b9\u00b9-\u00b2\u2077",  # superscripts
    "2026-\uff11\uff11-27",
    "\uff11\uff12\uff13",
    "\u0661\u0662s",
]
ODD_TEXT = [
    "",
    " ",
    "2026-11-27\n",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "user-1\n",
    "../../etc/passwd",
    "\u202euser",
    "\x00",
    "\ufeff2026-11-27",
    "\ud800",  # a lone surrogate, as JSON's \\ud800 escape gives
    "NaN",
    "Infinity",
    "-18000s",
    "1e999s",
    "99999999999999999999s",
    "2026-11-20T02:03:05Z",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31T23:59:59Z",
]


def weird(rng: random.Random) -> object:
    """A value of the wrong kind, size or script, as JSON-to-be (`Raw` where JSON must be)."""
    pick = rng.randrange(11)
    if pick == 0:
        return Raw(rng.choice(["", "-"]) + "1" * rng.choice([4300, 4301, 4400, 6000]))
    if pick == 1:
        return Raw(rng.choice(["1e999999", "-1e999999", "1e-999999", "-0", "1E400", "0.1e1"]))
    if pick == 2:
        return Raw(rng.choice(["NaN", "Infinity", "-Infinity"]))
    if pick == 3:
        return Raw(nested_text(rng))
    if pick == 4:
        return copy.deepcopy(
            rng.choice(
                [0, -1, 1.5, 2**63, -(2**63) - 1, 10**300, True, False, None, {}, [], [1], {"a": 1}]
            )
        )
    if pick == 5:
        return rng.choice("x9\u00e9\uff19") * rng.choice([300, 2000, 9000, 17000])
    if pick == 6:
        return rng.choice(OTHER_DIGITS)
    if pick == 7:
        return rng.choice(ODD_TEXT)
    if pick == 8:
        return Raw('"\\ud800\\udfff\\u0000"')
    if pick == 9:
        return "9" * rng.choice([4301, 5000])
    return [weird(rng), weird(rng)]


def weird_python(rng: random.Random) -> object:
    """Like `weird`, as the Python value a JSON parser would give (for API answers)."""
    value = weird(rng)
    if isinstance(value, Raw):
        text = str(value)
        if text.lstrip("-").isdigit() and len(text.lstrip("-")) > 4300:
            return text  # no parser gives such an int: the API sends it as a string
        if text.startswith(("[", "{")) and len(text) > 200:
            return nested_value(rng)
        try:
            return json.loads(text)
        except ValueError:
            return text
    return value


def mutate_tree(rng: random.Random, value: object, make: Callable[[random.Random], object]):
    """A copy of a JSON tree with one place changed: replaced, removed, or added to."""
    root = copy.deepcopy(value)
    node = root
    while True:
        if isinstance(node, dict) and node:
            key = rng.choice(list(node))
            child = node[key]
            if isinstance(child, dict | list) and child and rng.random() < 0.6:
                node = child
                continue
            action = rng.random()
            if action < 0.7:
                node[key] = make(rng)
            elif action < 0.85:
                del node[key]
            else:
                node[rng.choice(["extra", key + "x", "", "\u0000"])] = make(rng)
            return root
        if isinstance(node, list) and node:
            index = rng.randrange(len(node))
            child = node[index]
            if isinstance(child, dict | list) and child and rng.random() < 0.6:
                node = child
                continue
            if rng.random() < 0.8:
                node[index] = make(rng)
            else:
                node.append(make(rng))
            return root
        return make(rng) if rng.random() < 0.3 else root


BAD_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80", b"\xfe"]


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    """Byte-level damage: flips, truncation, bad UTF-8, inserted or repeated bytes."""
    out = bytearray(data)
    pick = rng.randrange(8)
    if pick == 0 and out:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif pick == 1:
        del out[rng.randrange(len(out) + 1) :]
    elif pick == 2:
        i = rng.randrange(len(out) + 1)
        out[i:i] = rng.choice(BAD_UTF8)
    elif pick == 3:
        i = rng.randrange(len(out) + 1)
        out[i:i] = rng.randbytes(rng.randint(1, 16))
    elif pick == 4:
        out = bytearray(b"\xef\xbb\xbf" + out) if rng.random() < 0.5 else out
        if rng.random() < 0.5:
            out = bytearray(bytes(out).decode("utf-8", "replace").encode("utf-16"))
    elif pick == 5 and out:
        i = rng.randrange(len(out))
        j = rng.randrange(i, len(out) + 1)
        out[j:j] = out[i:j] * rng.randint(1, 50)
    elif pick == 6:
        digits = [i for i, b in enumerate(out) if 0x30 <= b <= 0x39]
        if digits:
            i = rng.choice(digits)
            out[i : i + 1] = chr(0xFF10 + out[i] - 0x30).encode("utf-8")
    elif out:
        i = rng.randrange(len(out))
        del out[i : rng.randrange(i, len(out) + 1)]
    return bytes(out)


# --------------------------------------------------------------------------- the checks


def _shown(value: object) -> str:
    try:
        return repr(value)[:300]
    except (RecursionError, ValueError):
        return f"<a {type(value).__name__} too deep or too long to show>"


@dataclasses.dataclass
class Failures:
    """Every input that raised, with enough to reproduce it."""

    found: list[str] = dataclasses.field(default_factory=list)

    def run(self, what: str, case: int, shown: object, fn: Callable[[], object]) -> object:
        try:
            return fn()
        except Exception as err:
            where = traceback.extract_tb(err.__traceback__)[-1]
            self.found.append(
                f"{what} case {case}: {type(err).__name__}: {str(err)[:200]} "
                f"at {where.filename.rsplit('/', 2)[-1]}:{where.lineno}; input {_shown(shown)}"
            )
            return None

    def check(self) -> None:
        assert not self.found, f"{len(self.found)} inputs raised:\n" + "\n".join(self.found[:15])


def check_dead_letter(letter: object, stage: str | None = None) -> None:
    """A dead letter with a reason, which the sink can write and replay can read."""
    assert isinstance(letter, DeadLetter), letter
    assert letter.stage and letter.error_class and isinstance(letter.message, str), letter
    if stage is not None:
        assert letter.stage == stage, letter
    line = letter.to_json()
    assert "\n" not in line
    assert json.loads(line)["stage"] == letter.stage


def split_outputs(outputs: Iterable[object]) -> tuple[list, dict[str, list]]:
    main, tagged = [], {}
    for out in outputs:
        if isinstance(out, TaggedOutput):
            tagged.setdefault(out.tag, []).append(out.value)
        else:
            main.append(out)
    return main, tagged


# --------------------------------------------------------------------------- request messages

USERS = ["user-1", "participant-017", "a", "a.b_c-d", "x" * 128]
DATES = ["2026-11-27", "2026-11-01", "2025-12-01", "2026-11-29", "2026-11-30"]
DATA_TYPES = list(datatypes.SPECS)


def request_message(rng: random.Random) -> bytes:
    obj: dict = {"user_id": rng.choice(USERS)}
    if rng.random() < 0.5:
        obj["date"] = rng.choice(DATES)
    else:
        obj["start_date"], obj["end_date"] = sorted(rng.sample(DATES, 2))
    if rng.random() < 0.5:
        obj["data_types"] = rng.sample(DATA_TYPES, rng.randint(1, 4))
    if rng.random() < 0.3:
        obj["stream"] = rng.choice(["raw", "reconciled"])
    if rng.random() < 0.2:
        obj["source"] = rng.choice(["google-health", "fitbit-legacy"])
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        obj = mutate_tree(rng, obj, weird)
    text = dump(obj)
    if rng.random() < 0.1 and text.startswith("{") and len(text) > 2:
        text = '{"user_id":"user-2",' + text[1:]  # a duplicate key, or a second user
    if rng.random() < 0.03:
        text = dump(weird(rng))
    data = text.encode("utf-8", "surrogatepass")
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
        data = mutate_bytes(rng, data)
    return data


def check_requests(requests_out: list, user: str | None = None) -> None:
    for request in requests_out:
        assert isinstance(request, FetchRequest), request
        check_user_key(request.user_key)
        assert request.data_type in datatypes.SPECS
        assert request.start_date <= request.end_date <= TODAY + dt.timedelta(days=1)
        assert request.stream in ("raw", "reconciled")


def test_request_messages_give_requests_or_a_dead_letter_with_a_reason():
    rng = random.Random(SEED)
    fn = _ParseRequestsFn(clock=lambda: NOW)
    failures = Failures()
    outcomes = {"requests": 0, **{reason: 0 for reason in REASONS}}
    for case in range(MESSAGES):
        data = request_message(rng)

        def parse(data=data):
            try:
                return parse_request(data, TODAY), None
            except BadRequest as bad:
                assert bad.reason in REASONS, bad.reason
                assert str(bad)
                return None, bad.reason

        parsed = failures.run("parse_request", case, data, parse)
        if rng.random() < 0.3:
            element = PubsubMessage(data, {"k": "v"}, message_id=str(case))
        else:
            element = data
        outputs = failures.run("ParseRequestsFn", case, data, lambda e=element: list(fn.process(e)))
        if parsed is None or outputs is None:
            continue
        main, tagged = split_outputs(outputs)
        requests_out, reason = parsed
        if reason is None:
            check_requests(main)
            assert (main, tagged) == (requests_out, {}), case
            outcomes["requests"] += 1
        else:
            assert (main, list(tagged)) == ([], ["dead_letter"]), case
            (letter,) = tagged["dead_letter"]
            check_dead_letter(letter, "parse_request")
            assert letter.error_class == reason
            outcomes[reason] += 1
    failures.check()
    # The generator reaches good messages and the reasons that matter here.
    for outcome in ("requests", "not_json", "not_utf8", "duplicate_key", "bad_date", "bad_user"):
        assert outcomes[outcome] > 50, outcomes


def test_a_number_past_the_conversion_limit_in_any_field_is_not_json():
    # int() refuses more than 4300 digits with a plain ValueError; it must not escape.
    huge = "1" * 4301
    for message in (
        f'{{"user_id":{huge},"date":"2026-11-27"}}',
        f'{{"user_id":"user-1","date":"2026-11-27","data_types":[-{huge}]}}',
        f'{{"user_id":"user-1","date":"2026-11-27","x":{{"y":[{huge}]}}}}',
    ):
        try:
            parse_request(message.encode(), TODAY)
        except BadRequest as bad:
            assert (bad.reason, str(bad)) == ("not_json", "a number of 4301 digits is too long")
        else:
            raise AssertionError(f"accepted {message[:60]}")


# --------------------------------------------------------------------------- rows and pages

SAMPLE_POINTS = OLDER_POINTS + NEW_SAMPLE_POINTS

CTX = datapoints.RowContext("user-1", RUN_ID, NOW, f"{RUN_ID}-load")
EXERCISE_ROW = next(
    row
    for data_type, point, stream in SAMPLE_POINTS
    if data_type == "exercise"
    for _, row in datapoints.rows_for_point(data_type, point, CTX, stream)
)
SUMMARY_WINDOWS = {
    "steps": [
        {
            "civilStartTime": {"date": {"year": 2026, "month": 11, "day": 20}},
            "steps": {"countSum": "9123"},
        }
    ],
    "total-calories": [
        {
            "civilStartTime": {"date": {"year": 2026, "month": 11, "day": 20}},
            "totalCalories": {"kcalSum": 2100.5},
        }
    ],
    "active-zone-minutes": [
        {
            "civilStartTime": {"date": {"year": 2026, "month": 11, "day": 21}},
            "activeZoneMinutes": {"sumInPeakHeartZone": "4", "sumInCardioHeartZone": 3},
        }
    ],
}


def list_call(data_type: str, stream: str) -> ApiCall:
    day = dt.date(2026, 11, 20)
    return planning.plan_calls(FetchRequest("user-1", data_type, day, day, stream))[0]


SUMMARY_CALL = planning.plan_calls(
    FetchRequest("user-1", "total-calories", dt.date(2026, 11, 20), dt.date(2026, 11, 21))
)[0]
TCX_CALL = planning.detail_call(list_call("exercise", "raw"), EXERCISE_ROW)


def sample_rows() -> list[tuple[str, dict]]:
    """One row or more of every table, as the rows stage builds them."""
    fn = _ToRowsFn(RUN_ID, NOW, clock=lambda: NOW)
    pages = [ApiPage(list_call(t, s), points=(p,)) for t, p, s in SAMPLE_POINTS]
    pages.append(ApiPage(SUMMARY_CALL, rollups=tuple(SUMMARY_WINDOWS.items())))
    pages.append(ApiPage(TCX_CALL, tcx=TCX))
    out = [
        pair for page in pages for pair in fn.process(page) if not isinstance(pair, TaggedOutput)
    ]
    # The legacy-only tables' rows come from `fitbeam import legacy` (transforms.imports),
    # user-level snapshots from their own stage (transforms.user_tables), not ToRows.
    out += legacy_rows()
    assert {table for table, _ in out} == set(ALL_TABLES) - set(USER_TABLES)
    return out


def mutate_tcx(rng: random.Random, text: str) -> str:
    pick = rng.randrange(9)
    if pick == 0:
        return mutate_bytes(rng, text.encode()).decode("utf-8", "replace")
    if pick == 1:
        return text[: rng.randrange(len(text) + 1)]
    if pick == 2:
        depth = rng.choice([100, 1000, 20000])
        return text.replace("<Track>", "<Track>" + "<x>" * depth + "</x>" * depth, 1)
    if pick == 3:
        return '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]>' + text
    if pick == 4:
        value = str(rng.choice(["1" * 5000, "1e999", "NaN", "-Infinity", "\uff11\uff14\uff10"]))
        tag = rng.choice(["Value", "LatitudeDegrees", "TotalTimeSeconds", "Time", "Calories"])
        return text.replace(f"<{tag}>", f"<{tag}>{value}", 1)
    if pick == 5:
        moment = rng.choice(
            [
                "9999-12-31T23:59:59-14:00",
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00+14:00",
                "0001-01-01T00:00:00",
                "x" * 30,
            ]
        )
        return text.replace("2026-11-11T04:41:00.000Z", moment)
    if pick == 6:
        return text.replace("Trackpoint>", "Trackpoint>" * rng.randint(2, 30))
    if pick == 7:
        return text.replace('encoding="UTF-8"', rng.choice(['encoding="utf-16"', 'encoding="x"']))
    return "x" * rng.choice([0, 1, 100000])


def mutated_page(rng: random.Random) -> ApiPage:
    pick = rng.random()
    if pick < 0.7:
        data_type, point, stream = rng.choice(SAMPLE_POINTS)
        points = [mutate_tree(rng, point, weird_python) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            points.append(nested_value(rng) if rng.random() < 0.5 else weird_python(rng))
        return ApiPage(list_call(data_type, stream), points=tuple(points))
    if pick < 0.85:
        rollups = {t: mutate_tree(rng, w, weird_python) for t, w in SUMMARY_WINDOWS.items()}
        if rng.random() < 0.2:
            rollups["steps"] = weird_python(rng)
        windows = tuple(
            (t, tuple(w) if isinstance(w, list | tuple | str | dict) else (w,))
            for t, w in rollups.items()
        )
        return ApiPage(SUMMARY_CALL, rollups=windows)
    if rng.random() < 0.2:
        parent = mutate_tree(rng, dict(TCX_CALL.parent), weird_python)
        parent = parent if isinstance(parent, dict) else {"x": parent}
        call = dataclasses.replace(TCX_CALL, parent=tuple(parent.items()))
    else:
        call = TCX_CALL
    return ApiPage(call, tcx=mutate_tcx(rng, TCX))


@functools.cache
def _validate_fn() -> _ValidateRowsFn:
    fn = _ValidateRowsFn()
    fn.setup()
    return fn


@functools.cache
def _to_rows_fn() -> _ToRowsFn:
    return _ToRowsFn(RUN_ID, NOW, clock=lambda: NOW)


def check_rows(failures: Failures, what: str, case: int, pairs: list) -> None:
    """Built or replayed rows go through validation, and valid ones become BigQuery JSON."""
    validate = _validate_fn()
    for pair in pairs:
        outputs = failures.run(
            f"{what} -> ValidateRowsFn", case, pair, lambda p=pair: list(validate.process(p))
        )
        if outputs is None:
            continue
        main, tagged = split_outputs(outputs)
        assert set(tagged) <= {"dead_letter"}, tagged
        for letter in tagged.get("dead_letter", []):
            failures.run(
                f"{what} dead letter", case, letter, lambda d=letter: check_dead_letter(d, "schema")
            )
        for valid in main:
            table, row = pair
            assert isinstance(valid, TableRow) and valid.table == table
            assert valid == to_bigquery_json(table, row)
            failures.run(
                f"{what} -> ValidateRowsFn -> BigQuery JSON",
                case,
                pair,
                lambda v=valid: json.dumps(v, allow_nan=False),
            )


def check_pages(failures: Failures, what: str, case: int, pages: list[ApiPage]) -> None:
    fn = _to_rows_fn()
    for page in pages:
        outputs = failures.run(
            f"{what} -> ToRowsFn", case, page, lambda p=page: list(fn.process(p))
        )
        if outputs is None:
            continue
        main, tagged = split_outputs(outputs)
        assert set(tagged) <= {"dead_letter", "detail"}, tagged
        for letter in tagged.get("dead_letter", []):
            assert letter.stage in ("rows", "tcx")
            failures.run(f"{what} dead letter", case, letter, lambda d=letter: check_dead_letter(d))
        for detail in tagged.get("detail", []):
            assert isinstance(detail, ApiCall) and detail.kind == "tcx"
        for table, row in main:
            assert table in ALL_TABLES and isinstance(row, dict)
        check_rows(failures, f"{what} -> ToRowsFn", case, main)


def test_pages_give_rows_detail_calls_or_dead_letters():
    rng = random.Random(SEED + 1)
    failures = Failures()
    for case in range(PAGES):
        check_pages(failures, "page", case, [mutated_page(rng)])
    failures.check()


def mutated_row(rng: random.Random, rows: list[tuple[str, dict]]) -> tuple[str, dict]:
    table, row = rng.choice(rows)
    row = copy.deepcopy(row)
    for _ in range(rng.randint(1, 3)):
        column = rng.choice(list(row))
        action = rng.random()
        if action < 0.75:
            row[column] = (
                weird_python(rng)
                if rng.random() < 0.8
                else rng.choice(
                    [NOW, NOW.replace(tzinfo=None), TODAY, float("nan"), float("inf"), 2**64]
                )
            )
        elif action < 0.9:
            del row[column]
        else:
            row[rng.choice(["extra", column.upper()])] = weird_python(rng)
    if rng.random() < 0.05:
        table = rng.choice(["", "nope", "steps ", "STEPS", "\u0000"])
    return table, row


def test_rows_are_valid_or_a_schema_dead_letter():
    rng = random.Random(SEED + 2)
    rows = sample_rows()
    failures = Failures()
    for case in range(ROWS):
        check_rows(failures, "row", case, [mutated_row(rng, rows)])
    failures.check()


# --------------------------------------------------------------------------- replay


class _EmptyApi:
    """Answers every call with nothing: a replayed call's own fields are what is tried."""

    def list_page(self, token, data_type, **kwargs):
        return Page((), None)

    def daily_rollup(self, token, data_type, start, end_exclusive):
        return []

    def daily_rollup_page(self, token, data_type, start, end_exclusive, **kwargs):
        return Page((), None)

    def export_tcx(self, token, exercise_id, partial_data=True):
        return TCX


class _Runner:
    def request(self, user_key, send):
        return send("fake-access-token")


def base_letters() -> list[DeadLetter]:
    stamp = "2026-11-28T12:00:00.000000Z"
    letters = [
        DeadLetter("fetch", call, "UNAVAILABLE", "HTTP 503", stamp, 503, user_key="user-1")
        for call in (list_call("steps", "raw"), list_call("sleep", "reconciled"), SUMMARY_CALL)
    ]
    letters.append(DeadLetter("fetch_detail", TCX_CALL, "UNAVAILABLE", "HTTP 503", stamp, 503))
    for table, row in sample_rows()[::3]:
        stage = "schema" if len(letters) % 2 else "bigquery"
        letters.append(DeadLetter(stage, row, "ValidationError", "bad", stamp, table=table))
    letters.append(
        DeadLetter(
            "parse_request", {"message": "x"}, "not_json", "not JSON", stamp, replayable=False
        )
    )
    return letters


def dead_letter_line(rng: random.Random, letters: list[DeadLetter]) -> bytes:
    calls_first = rng.random() < 0.4  # calls are few among the letters: pick them more often
    pool = [d for d in letters if d.stage.startswith("fetch")] if calls_first else letters
    record = json.loads(rng.choice(pool).to_json())
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        record = mutate_tree(rng, record, weird)
    if rng.random() < 0.1 and isinstance(record, dict):
        record["stage"] = rng.choice(["fetch", "schema", "bigquery", "", "x" * 100, "\u0000"])
    if rng.random() < 0.1 and isinstance(record, dict):
        record["replayable"] = weird(rng)
    data = dump(record).encode("utf-8", "surrogatepass")
    for _ in range(rng.choice([0, 0, 1, 2])):
        data = mutate_bytes(rng, data)
    return data


def test_dead_letter_lines_replay_or_become_dead_letters_and_what_replays_goes_through():
    rng = random.Random(SEED + 3)
    letters = base_letters()
    replay = ReplayDeadLettersFn()
    failures = Failures()
    replayed = {"calls": 0, "rows": 0, "dead_letter": 0}
    for case in range(DEAD_LETTER_LINES):
        line = dead_letter_line(rng, letters)
        outputs = failures.run(
            "ReplayDeadLettersFn", case, line, lambda x=line: list(replay.process(x))
        )
        if outputs is None:
            continue
        main, tagged = split_outputs(outputs)
        assert main == [] and set(tagged) <= set(replayed), (main, tagged)
        for tag, values in tagged.items():
            replayed[tag] += len(values)
        for letter in tagged.get("dead_letter", []):
            failures.run(
                "replay dead letter", case, letter, lambda d=letter: check_dead_letter(d, "replay")
            )
        for call in tagged.get("calls", []):
            assert isinstance(call, ApiCall)
            page = failures.run(
                "replay -> run_call",
                case,
                call,
                lambda c=call: calls.run_call(_Runner(), _EmptyApi(), c),
            )
            if page is not None:
                check_pages(failures, "replay -> run_call", case, [page])
        check_rows(failures, "replay", case, tagged.get("rows", []))
    failures.check()
    assert min(replayed.values()) > 100, replayed


# --------------------------------------------------------------------------- API answers


class _Answers:
    """Stands in for the HTTP session: answers requests in turn, then with empty pages."""

    verify = True

    def __init__(self, answers: list[tuple[int, str, bytes]]):
        self.answers = answers

    def request(self, method, url, headers=None, timeout=None, allow_redirects=True, **kwargs):
        status, content_type, body = self.answers.pop(0) if self.answers else (200, JSON, b"{}")
        response = requests.Response()
        response.status_code = status
        response.headers["Content-Type"] = content_type
        if 300 <= status < 400:
            response.headers["Location"] = "https://elsewhere.example/x"
        response._content = body
        response.encoding = "utf-8"
        response.url = url
        return response

    def close(self) -> None:
        pass


class _Broker:
    on_refresh = None

    def access_token(self, user_key: str) -> str:
        return "fake-access-token"

    def after_unauthorized(self, user_key: str, rejected: str) -> str:
        return "fake-access-token-2"


class _NoQuota:
    def acquire(self, user_key: str) -> float:
        return 0.0


JSON = "application/json; charset=utf-8"
ODD_ANSWERS = [
    (200, "text/html", b"<html>proxy error</html>"),
    (200, JSON, b""),
    (200, "", b"{}"),
    (302, "text/html", b""),
    (400, JSON, b'{"error":{"message":"bad filter","status":"INVALID_ARGUMENT"}}'),
    (401, JSON, b'{"error":{"message":"expired"}}'),
    (404, JSON, b'{"error":[1]}'),
    (429, JSON, b'{"error":{"message":"slow down"}}'),
    (503, "text/plain", b"unavailable"),
]


def api_answer(rng: random.Random, call: ApiCall) -> list[tuple[int, str, bytes]]:
    answers = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.15:
            answers.append(rng.choice(ODD_ANSWERS))
            continue
        if call.kind == "tcx":
            answers.append((200, "application/vnd.garmin.tcx+xml", mutate_tcx(rng, TCX).encode()))
            continue
        if call.kind == "summary":
            body: object = {"rollupDataPoints": rng.choice(list(SUMMARY_WINDOWS.values()))}
        else:
            points = [p for t, p, _ in SAMPLE_POINTS if t == call.data_type]
            body = {"dataPoints": points * rng.randint(1, 2)}
            if rng.random() < 0.5:
                body["nextPageToken"] = "page-2"
        for _ in range(rng.choice([0, 1, 1, 2])):
            body = mutate_tree(rng, body, weird)
        data = dump(body).encode("utf-8", "surrogatepass")
        if rng.random() < 0.2:
            data = mutate_bytes(rng, data)
        answers.append((200, JSON, data))
    return answers


def test_api_answers_give_pages_or_fetch_dead_letters():
    rng = random.Random(SEED + 4)
    fn = FetchFn(
        BASE_URL,
        "fuzz-token-store",
        "https://oauth2.googleapis.com/token",
        quota_per_minute=300,
        policy=RetryPolicy(max_attempts=2),
        broker_factory=_Broker,
        sleep=lambda seconds: None,
    )
    fn.setup()
    fn.runner.limiter = _NoQuota()
    fetchable = [list_call(t, s) for t, _, s in SAMPLE_POINTS] + [SUMMARY_CALL, TCX_CALL]
    failures = Failures()
    outcomes = {"pages": 0, "dead_letter": 0}
    for case in range(API_ANSWERS):
        call = rng.choice(fetchable)
        answers = api_answer(rng, call)
        fn.client = HealthApiClient(_Answers(list(answers)), BASE_URL)
        outputs = failures.run("FetchFn", case, answers, lambda c=call: list(fn.process(c)))
        if outputs is None:
            continue
        main, tagged = split_outputs(outputs)
        assert set(tagged) <= {"dead_letter"}, tagged
        for letter in tagged.get("dead_letter", []):
            failures.run(
                "fetch dead letter", case, letter, lambda d=letter: check_dead_letter(d, "fetch")
            )
        for page in main:
            assert isinstance(page, ApiPage) and page.call == call
        outcomes["pages"] += len(main)
        outcomes["dead_letter"] += len(tagged.get("dead_letter", []))
        check_pages(failures, "FetchFn", case, main)
    fn.teardown()
    failures.check()
    assert min(outcomes.values()) > 100, outcomes


# --------------------------------------------------------------------------- what the fuzz found
# Each case below once raised out of its stage; each now has an exact outcome.


def test_the_sink_writes_a_dead_letter_whose_original_is_too_deep_to_encode():
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    letter = DeadLetter("rows", deep, "RowError", "bad point", "2026-11-28T12:00:00.000000Z")
    record = json.loads(letter.to_json())
    assert record["original"].startswith("[not kept: the original cannot be written as JSON (")
    assert (record["stage"], record["message"]) == ("rows", "bad point")


def test_a_point_nested_too_deeply_is_a_rows_dead_letter_without_the_point():
    deep: object = {"startTime": "2026-11-20T00:00:00Z"}
    for _ in range(2000):
        deep = {"interval": deep}
    call = list_call("steps", "raw")
    outputs = list(_to_rows_fn().process(ApiPage(call, points=({"steps": deep},))))
    main, tagged = split_outputs(outputs)
    ((table, load_row),) = main  # the load log still records the window, with no rows
    assert (table, load_row["row_count"]) == ("load_windows", 0)
    ((letter),) = tagged["dead_letter"]
    assert (letter.stage, letter.error_class, letter.message) == (
        "rows",
        "RowError",
        "dataPoint: nested more than 64 deep",
    )
    assert letter.original == {
        "call": call.to_json(),
        "point": "[not kept: nested more than 64 levels deep]",
    }


def test_a_point_whose_rows_are_good_loads_however_deep_what_it_has_beside_them():
    # Rows take only the values their schema names; the depth of the rest matters only
    # when the point itself is to be kept in a dead letter.
    ((_, point, stream),) = [sample for sample in SAMPLE_POINTS if sample[0] == "steps"][:1]
    deep: object = 1
    for _ in range(2000):
        deep = [deep]
    call = list_call("steps", stream)
    plain = list(_to_rows_fn().process(ApiPage(call, points=(point,))))
    beside = list(_to_rows_fn().process(ApiPage(call, points=({**point, "extra": deep},))))

    def rows(outputs: list) -> list:  # each page is an answer of its own: drop its load_id
        return [
            (table, {k: v for k, v in row.items() if k != "load_id"})
            for table, row in outputs
            if table != "load_windows"
        ]

    assert rows(beside) == rows(plain) and len(rows(plain)) == 1
    assert split_outputs(beside)[1] == {}


def test_a_point_with_a_number_or_date_out_of_range_is_a_rows_dead_letter():
    ((_, point, _),) = [s for s in SAMPLE_POINTS if s[0] == "daily-oxygen-saturation"][:1]
    point = copy.deepcopy(point)
    point["dailyOxygenSaturation"]["averagePercentage"] = 10**400  # float() overflows
    page = ApiPage(list_call("daily-oxygen-saturation", "raw"), points=(point,))
    _, tagged = split_outputs(_to_rows_fn().process(page))
    ((letter),) = tagged["dead_letter"]
    assert (letter.stage, letter.error_class) == ("rows", "RowError")
    assert letter.message.startswith("dailyOxygenSaturation: a date or number out of range")


def test_a_tcx_parent_without_a_stream_or_with_a_far_offset_is_a_tcx_dead_letter():
    for change, message in (
        ({"stream": 1.5}, "exercise.stream: expected one of ('raw', 'reconciled'), got 1.5"),
        (
            {"start_utc_offset_seconds": 10**6},
            "exercise.start_utc_offset_seconds: 1000000 is beyond any UTC offset",
        ),
        ({"civil_date": "2026-13-01"}, "exercise.civil_date: expected a date, got '2026-13-01'"),
        ({"source_platform": ["x"]}, "exercise.source_platform: expected text, got ['x']"),
    ):
        parent = {**dict(TCX_CALL.parent), **change}
        call = dataclasses.replace(TCX_CALL, parent=tuple(parent.items()))
        _, tagged = split_outputs(_to_rows_fn().process(ApiPage(call, tcx=TCX)))
        ((letter),) = tagged["dead_letter"]
        assert (letter.stage, letter.message) == ("tcx", message)


def test_a_row_fastavro_accepts_but_bigquery_json_cannot_carry_is_a_schema_dead_letter():
    rows = dict(sample_rows()[::-1])
    cases = [
        ("steps", {**rows["steps"], "start_time": 1_795_000_000_000_000}, "a date or time field"),
        ("steps", {k: v for k, v in rows["steps"].items() if k != "source_platform"}, "no field"),
        ("weight", {**rows["weight"], "weight_grams": float("nan")}, "nan is not a number"),
        ("steps", {**rows["steps"], "civil_date": "not a date"}, "Invalid isoformat string"),
    ]
    for table, row, message in cases:
        main, tagged = split_outputs(_validate_fn().process((table, row)))
        ((letter),) = tagged["dead_letter"]
        assert main == [] and letter.stage == "schema" and message in letter.message, letter


def test_an_api_answer_whose_lists_are_not_lists_is_malformed():
    for body, message in (
        (b'{"dataPoints": "abc"}', "dataPoints is not an array"),
        (b'{"dataPoints": [], "nextPageToken": {"a": 1}}', "nextPageToken is not a string"),
        (b'{"dataPoints": [], "x": ' + b"[" * 70 + b"]" * 70 + b"}", "JSON nested more than 64"),
    ):
        client = HealthApiClient(_Answers([(200, JSON, body)]), BASE_URL)
        try:
            client.list_page("fake-access-token", "steps")
        except HealthApiError as err:
            assert (err.status, err.reason) == (200, "MALFORMED_RESPONSE")
            assert err.message.startswith(message), err.message
        else:
            raise AssertionError(f"read {body[:40]!r}")


def test_the_client_leaves_each_point_to_the_rows_step_to_measure():
    deep = b'{"a": ' * 70 + b"1" + b"}" * 70
    body = b'{"dataPoints": [{"steps": 1}, ' + deep + b"]}"
    client = HealthApiClient(_Answers([(200, JSON, body)]), BASE_URL)
    page = client.list_page("fake-access-token", "steps")
    assert page.points[0] == {"steps": 1} and nested_deeper_than(page.points[1])
    assert not nested_deeper_than(page.points[0])


def test_a_malformed_last_point_has_no_tie_filter():
    for point in (
        "abc",
        {"steps": []},
        {"steps": {"interval": {"startTime": "9999-12-31T23:59:59Z"}}},
    ):
        assert planning.tie_filter("steps", point) is None
    daily = {"dailyRestingHeartRate": {"date": {"year": 10**20, "month": 1, "day": 1}}}
    assert planning.tie_filter("daily-resting-heart-rate", daily) is None
    good = {"steps": {"interval": {"startTime": "2026-11-20T00:00:00Z"}}}
    assert planning.tie_filter("steps", good) == (
        'steps.interval.start_time >= "2026-11-20T00:00:00Z" AND '
        'steps.interval.start_time < "2026-11-20T00:00:01Z"'
    )


def test_a_dead_letter_shows_a_message_nested_too_deeply_as_its_text():
    for message in (
        b'{"user_id":"user-1","date":' + b'{"a":' * 600 + b"1" + b"}" * 601,
        b'{"user_id":' + b"1" * 5000 + b"}",
    ):
        assert shown_message(message) == message[:2000].decode()
    assert shown_message(b"null") is None
    assert shown_message(b'{"user_id": "u", "date": [[1]]}') == {"user_id": "u", "date": [[1]]}


def test_a_roll_up_window_with_a_date_out_of_range_is_a_row_error():
    window = {"civilStartTime": {"date": {"year": 10**20, "month": 1, "day": 1}}}
    page = ApiPage(SUMMARY_CALL, rollups=(("steps", (window,)),))
    _, tagged = split_outputs(_to_rows_fn().process(page))
    ((letter),) = tagged["dead_letter"]
    assert (letter.stage, letter.error_class) == ("rows", "RowError")
    assert letter.message.startswith("dailyRollUp[steps].civilStartTime: no civil date: ")
