"""study.status and study.data: the pure rules of participant status (consent, open dead
letters, attention and its order, complete days) and per-type completeness."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from study import status
from study.data import type_completeness
from study.model import (
    CONSENT_ACTIVE,
    CONSENT_NEEDED,
    CONSENT_WITHDRAWN,
    ParticipantDay,
    ParticipantStatus,
    TypeCompleteness,
)
from study.status import Device, Letter, Load

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=UTC)


def civil(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour)


def letter(when: dt.datetime, *, window=None, error="HTTP_500", table="heart_rate") -> Letter:
    if window is None:
        return Letter("u1", when, error)
    return Letter("u1", when, error, table, "reconciled", *window)


def load(loaded: dt.datetime, start, end, table="heart_rate", stream="reconciled") -> Load:
    return Load(table, stream, start, end, loaded)


# ------------------------------------------------------------------ open dead letters


def test_a_letter_is_closed_by_a_later_load_of_its_window():
    failed = letter(at(3), window=(civil(1), civil(2)))
    assert status.is_open(failed, [])
    assert not status.is_open(failed, [load(at(4), civil(1), civil(2))])


def test_a_letter_is_closed_by_later_loads_side_by_side_that_cover_it():
    failed = letter(at(3), window=(civil(1), civil(3)))
    halves = [load(at(4), civil(2), civil(3)), load(at(5), civil(1), civil(2))]
    assert not status.is_open(failed, halves)
    assert status.is_open(failed, halves[:1])  # half of it is still missing


def test_a_letter_stays_open_after_loads_before_it_of_another_table_stream_or_with_a_gap():
    failed = letter(at(3), window=(civil(1), civil(3)))
    assert status.is_open(failed, [load(at(2), civil(1), civil(3))])  # before the letter
    assert status.is_open(failed, [load(at(4), civil(1), civil(3), table="steps")])
    assert status.is_open(failed, [load(at(4), civil(1), civil(3), stream="raw")])
    gap = [load(at(4), civil(1), civil(1, 12)), load(at(4), civil(1, 13), civil(3))]
    assert status.is_open(failed, gap)


def test_a_letter_without_a_window_is_closed_by_any_later_load_of_the_user():
    failed = letter(at(3))
    assert status.is_open(failed, [load(at(2), civil(1), civil(2))])
    assert not status.is_open(failed, [load(at(4), civil(9), civil(10), table="sleep")])


# ------------------------------------------------------------------ dead letter files

CALL = {
    "user_key": "u1",
    "kind": "list",
    "data_type": "heart-rate",
    "start": "2026-12-01T00:00:00",
    "end": "2026-12-02T00:00:00",
    "stream": "reconciled",
}


def test_a_fetch_letter_names_its_table_and_window():
    record = {
        "user_key": "u1",
        "timestamp": "2026-12-03T04:05:06.123456Z",
        "error_class": "NEEDS_CONSENT",
        "original": CALL,
        "stage": "fetch",
    }
    assert status.letter_from_json(record) == Letter(
        "u1",
        dt.datetime(2026, 12, 3, 4, 5, 6, 123456, tzinfo=UTC),
        "NEEDS_CONSENT",
        "heart_rate",
        "reconciled",
        civil(1),
        civil(2),
    )


def test_a_summary_letter_names_the_summary_table():
    call = {**CALL, "kind": "summary", "data_type": "daily-activity-summary"}
    call.update(start="2026-12-01", end="2026-12-03")
    record = {"user_key": "u1", "timestamp": "2026-12-03T00:00:00Z", "original": call}
    parsed = status.letter_from_json(record)
    assert (parsed.table, parsed.window_start, parsed.window_end) == (
        "daily_activity_summary",
        civil(1),
        civil(3),
    )


def test_letters_without_a_call_window_user_or_time():
    request = {"user_key": "u1", "data_type": "steps", "start_date": "2026-12-01"}
    parsed = status.letter_from_json(
        {"user_key": "u1", "timestamp": "2026-12-03T00:00:00Z", "original": request}
    )
    assert parsed == Letter("u1", at(3), "")
    assert not parsed.has_window
    assert status.letter_from_json({"timestamp": "2026-12-03T00:00:00Z"}) is None
    assert status.letter_from_json({"user_key": "u1", "timestamp": "yesterday"}) is None
    bad_call = {**CALL, "start": "2026-12-02T00:00:00"}  # an empty window: not a planned call
    parsed = status.letter_from_json(
        {"user_key": "u1", "timestamp": "2026-12-03T00:00:00Z", "original": bad_call}
    )
    assert not parsed.has_window


def test_read_letters_reads_every_jsonl_under_the_root(tmp_path):
    run = tmp_path / "run-1"
    run.mkdir()
    lines = [
        json.dumps({"user_key": "u1", "timestamp": "2026-12-03T00:00:00Z", "original": CALL}),
        "",
        "not json",
        json.dumps({"user_key": "", "timestamp": "2026-12-03T00:00:00Z"}),
        json.dumps({"user_key": "u2", "timestamp": "2026-12-04T00:00:00+01:00"}),
    ]
    (run / "dead-letters-00000-of-00001.jsonl").write_text("\n".join(lines) + "\n")
    (run / "notes.txt").write_text("ignored")
    letters = status.read_letters(str(tmp_path))
    assert [(x.user_key, x.timestamp, x.table) for x in letters] == [
        ("u1", at(3), "heart_rate"),
        ("u2", at(3, 23), ""),
    ]
    assert status.read_letters(str(tmp_path / "missing")) == []


# ------------------------------------------------------------------ consent


def test_consent_states():
    consent_lost = [letter(at(4), error="NEEDS_CONSENT")]

    def state(**kw):
        args = dict(token_present=True, withdrawn_at=None, letters=[], last_load=at(3))
        return status.consent_state(**{**args, **kw})

    assert state() == (CONSENT_ACTIVE, "")
    assert state(withdrawn_at="2026-12-05T10:00:00Z") == (CONSENT_WITHDRAWN, "withdrawn 2026-12-05")
    assert state(token_present=False) == (CONSENT_NEEDED, "no token in the store")
    assert state(letters=consent_lost) == (CONSENT_NEEDED, "NEEDS_CONSENT on 2026-12-04")
    assert state(letters=consent_lost, last_load=None)[0] == CONSENT_NEEDED
    # A load after the refusal: they consented again.
    assert state(letters=consent_lost, last_load=at(5)) == (CONSENT_ACTIVE, "")
    assert state(letters=[letter(at(4))]) == (CONSENT_ACTIVE, "")  # another failure
    assert state(token_present=None) == (CONSENT_ACTIVE, "token store not checked")
    assert state(token_present=None, letters=consent_lost)[0] == CONSENT_NEEDED


# ------------------------------------------------------------------ devices and days


def test_the_wearable_is_the_tracker_that_synced_last():
    scale = Device("SCALE", "Aria Air", 90, "High", at(6))
    old = Device("TRACKER", "Inspire 3", None, "Empty", at(1))
    watch = Device("TRACKER", "Charge 6", 15, "Low", at(5))
    assert status.wearable([scale, old, watch]) == watch
    assert status.wearable([scale]) == scale
    assert status.wearable([Device("TRACKER", "x", None, None, None), old]) == old
    assert status.wearable([]) is None


def test_complete_days_are_the_participants():
    # 12:00 UTC on 6 December is 01:00 on the 7th in Tonga (UTC+13) and 07:00 in New York.
    assert status.complete_days(NOW, "Pacific/Tongatapu", 2) == [
        dt.date(2026, 12, 6),
        dt.date(2026, 12, 5),
    ]
    assert status.complete_days(NOW, "America/New_York", 1) == [dt.date(2026, 12, 5)]
    assert status.complete_days(NOW, None, 1) == [dt.date(2026, 12, 5)]
    assert status.complete_days(NOW, "Not/AZone", 1) == [dt.date(2026, 12, 5)]


def test_day_counts_over_the_last_3_7_and_30_days():
    rows = [
        {"civil_date": dt.date(2026, 12, 5), "worn_minutes": 700, "type_count": 3},
        {"civil_date": dt.date(2026, 12, 4), "worn_minutes": 599, "type_count": 2},
        {"civil_date": dt.date(2026, 12, 1), "worn_minutes": 600, "type_count": 1},
        {"civil_date": dt.date(2026, 11, 20), "worn_minutes": 800, "type_count": 4},
        {"civil_date": dt.date(2026, 11, 19), "worn_minutes": 0, "type_count": 0},
        {"civil_date": dt.date(2026, 12, 6), "worn_minutes": 900, "type_count": 5},  # today
        {"civil_date": dt.date(2026, 11, 1), "worn_minutes": 900, "type_count": 5},  # too old
    ]
    assert status.day_counts(rows, NOW, 600, "UTC") == {
        "loaded_3": 2,
        "data_3": 2,
        "valid_3": 1,
        "loaded_7": 3,
        "data_7": 3,
        "valid_7": 2,
        "loaded_30": 5,
        "data_30": 4,
        "valid_30": 3,
    }
    assert status.day_counts(rows, NOW, 500, None)["valid_7"] == 3


# ------------------------------------------------------------------ attention


def reasons(**kw):
    args = dict(
        consent=CONSENT_ACTIVE,
        last_sync=at(6, 11),
        battery_level=80,
        battery_status="High",
        days_with_data_recent=3,
        valid_days_7=7,
        open_dead_letters=0,
        now=NOW,
    )
    return status.attention(**{**args, **kw})


def test_a_participant_who_is_fine_needs_no_attention():
    assert reasons() == ()


def test_every_reason_in_order_of_urgency():
    assert reasons(
        consent=CONSENT_NEEDED,
        last_sync=at(2, 11),
        battery_level=12,
        battery_status="Low",
        days_with_data_recent=0,
        valid_days_7=2,
        open_dead_letters=3,
    ) == (
        "consent needed",
        "no sync for 4 days",
        "battery Low 12%",
        "no data for 3 days",
        "valid days 2/7",
        "3 open dead letters",
    )


def test_thresholds():
    assert reasons(last_sync=at(3, 12)) == ("no sync for 3 days",)
    assert reasons(last_sync=at(3, 13)) == ()  # 2 days 23 hours
    assert reasons(last_sync=None) == ()
    assert reasons(battery_level=20, battery_status="Medium") == ("battery Medium 20%",)
    assert reasons(battery_level=21, battery_status="Medium") == ()
    assert reasons(battery_level=None, battery_status="Empty") == ("battery Empty",)
    assert reasons(valid_days_7=4) == ()
    assert reasons(valid_days_7=3) == ("valid days 3/7",)
    # Only 3 of the last 7 days loaded (enrolled 3 days ago): 3 valid ones are enough.
    assert reasons(valid_days_7=3, loaded_days_7=3) == ()
    assert reasons(valid_days_7=2, loaded_days_7=3) == ("valid days 2/3",)
    assert reasons(valid_days_7=0, loaded_days_7=0, days_with_data_recent=0) == (
        "no data for 3 days",
    )
    assert reasons(open_dead_letters=1) == ("1 open dead letter",)


def test_a_withdrawn_participant_needs_only_that_said():
    assert reasons(consent=CONSENT_WITHDRAWN, battery_level=1, days_with_data_recent=0) == (
        "withdrawn",
    )


def _status(user: str, attention: tuple[str, ...]) -> ParticipantStatus:
    return ParticipantStatus(
        user, CONSENT_ACTIVE, "", None, None, None, None, None, 0, 0, 0, 0, 0, attention
    )


def test_who_needs_attention_comes_first_most_urgent_first_then_by_user():
    statuses = [
        _status("a", ()),
        _status("b", ("2 open dead letters",)),
        _status("c", ("battery Low 12%", "2 open dead letters")),
        _status("d", ("withdrawn",)),
        _status("e", ("consent needed",)),
        _status("f", ("no sync for 4 days",)),
        _status("g", ("consent needed", "no data for 3 days")),
        _status("h", ("valid days 0/7",)),
        _status("i", ("no data for 3 days",)),
        _status("0", ()),
    ]
    assert [s.user_key for s in status.sort_statuses(statuses)] == [
        "d",
        "e",
        "g",
        "f",
        "c",
        "i",
        "h",
        "b",
        "0",
        "a",
    ]


def test_bad_valid_day_rule_is_refused():
    with pytest.raises(ValueError, match="valid-day minutes 0 must be 1 to 1500"):
        status.participant_statuses(None, "my-project:fitbit", valid_day_minutes=0)


# ------------------------------------------------------------------ completeness per type


def _day(user, data, expected) -> ParticipantDay:
    return ParticipantDay(
        user, dt.date(2026, 12, 1), None, 1440, 0, 0, 0, 0.0, None, False, None,
        tuple(data), tuple(expected), None,
    )  # fmt: skip


def test_type_completeness_counts_expected_participant_days():
    days = [
        _day("a", ["steps", "heart_rate"], ["heart_rate", "steps"]),
        _day("a", ["steps"], ["heart_rate", "steps"]),
        _day("b", ["steps", "weight"], []),
        _day("b", [], []),
    ]
    assert type_completeness(days) == (
        TypeCompleteness("steps", 2, 2),
        TypeCompleteness("heart_rate", 1, 2),
        TypeCompleteness("weight", 1, 0),
    )
    assert type_completeness([]) == ()
