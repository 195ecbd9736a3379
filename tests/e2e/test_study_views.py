"""The participant_days view on the BigQuery emulator: wear, steps, sleep, data types and
completeness, exact, for participants in New York on both DST days of 2026 and an ordinary day.

Rows are hand-made (tests/e2e/study_rows.py) and shown by their loads, so each
figure below can be counted by hand:

- `spring` (America/New_York, a Charge 6): loaded 2026-03-07..09. On the 7th, two
  overlapping steps points cover 4 UTC minutes and one from 23:58 to 00:02 adds 2
  minutes to the 7th and 2 to the 8th; heart rate falls on 3 minutes, one shared. The
  8th (23 hours) is worn all day in hour-long steps points, with every type its tracker
  should have. Nothing on the 9th.
- `fall` (America/New_York, no paired device): 2026-11-01 (25 hours) worn all day; two
  heart-rate samples at 01:30 local, once in EDT and once in EST.
- `nozone` (no settings): a weigh-in on 2026-03-08, a 24-hour day in UTC.

The dataset is shared with tests/e2e/test_status.py, whose users are read apart.
"""

from __future__ import annotations

import datetime as dt

import pytest

from study import days as study_days
from study.model import ParticipantDay
from tests.e2e import study_rows
from tests.e2e.study_rows import Loads, insert, interval, row, sample

UTC = dt.UTC
EST, EDT = -18000, -14400
NY = "America/New_York"
CHARGE_6 = ["ACTIVE_ZONE_MINUTES", "CALORIES", "DISTANCE", "HEART_RATE", "SLEEP", "SPO2", "STEPS"]
EXPECTED = ("daily_resting_heart_rate", "distance", "heart_rate", "sleep", "steps")
USERS = ("fall", "nozone", "spring")


def utc(*parts) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def ny_offset(moment: dt.datetime) -> int:
    """New York's offset at a UTC instant of 2026 (DST from 03-08 07:00Z to 11-01 06:00Z)."""
    return EDT if utc(2026, 3, 8, 7) <= moment < utc(2026, 11, 1, 6) else EST


def hourly_steps(user: str, start: dt.datetime, end: dt.datetime, count: int, load_id: str):
    rows, t = [], start
    while t < end:
        rows.append(
            interval(
                "steps",
                user,
                t,
                t + dt.timedelta(hours=1),
                offset=ny_offset(t),
                end_offset=ny_offset(t + dt.timedelta(hours=1)),
                step_count=count,
                load_id=load_id,
            )
        )
        t += dt.timedelta(hours=1)
    return rows


@pytest.fixture(scope="module")
def dataset(local_gcp):
    client, dataset = study_rows.shared_dataset()
    loads = Loads()
    ids = {}
    for table in ("steps", "heart_rate", "distance", "daily_resting_heart_rate", "sleep"):
        ids["spring", table] = loads.add(
            "spring", table, dt.datetime(2026, 3, 7), dt.datetime(2026, 3, 10)
        )
    ids["spring", "raw"] = loads.add(
        "spring", "steps", dt.datetime(2026, 3, 7), dt.datetime(2026, 3, 10), stream="raw"
    )
    for table in ("steps", "heart_rate"):
        ids["fall", table] = loads.add(
            "fall", table, dt.datetime(2026, 11, 1), dt.datetime(2026, 11, 2)
        )
    ids["nozone", "weight"] = loads.add(
        "nozone", "weight", dt.datetime(2026, 3, 8), dt.datetime(2026, 3, 9)
    )

    steps_id, hr_id = ids["spring", "steps"], ids["spring", "heart_rate"]
    steps = [
        # 2026-03-07, 10:00 EST = 15:00Z: minutes 15:00-15:02, then 15:02-15:03 again.
        interval(
            "steps",
            "spring",
            utc(2026, 3, 7, 15),
            utc(2026, 3, 7, 15, 3),
            offset=EST,
            step_count=30,
            load_id=steps_id,
        ),
        interval(
            "steps",
            "spring",
            utc(2026, 3, 7, 15, 2, 30),
            utc(2026, 3, 7, 15, 4),
            offset=EST,
            step_count=12,
            load_id=steps_id,
        ),
        # 23:58 to 00:02: two minutes of the 7th, two of the 8th.
        interval(
            "steps",
            "spring",
            utc(2026, 3, 8, 4, 58),
            utc(2026, 3, 8, 5, 2),
            offset=EST,
            step_count=8,
            load_id=steps_id,
        ),
        # Another source's steps: not worn minutes, but data.
        interval(
            "steps",
            "spring",
            utc(2026, 3, 7, 16),
            utc(2026, 3, 7, 16, 1),
            offset=EST,
            step_count=100,
            stream="raw",
            load_id=ids["spring", "raw"],
        ),
        # 2026-03-08: 23 hours worn, 100 steps an hour.
        *hourly_steps("spring", utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), 100, steps_id),
        # 2026-11-01: 25 hours worn, 10 steps an hour.
        *hourly_steps("fall", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5), 10, ids["fall", "steps"]),
    ]
    heart_rate = [
        sample(
            "heart_rate",
            "spring",
            utc(2026, 3, 7, 15, 0, 10),
            EST,
            beats_per_minute=70,
            load_id=hr_id,
        ),
        sample(
            "heart_rate",
            "spring",
            utc(2026, 3, 7, 15, 0, 50),
            EST,
            beats_per_minute=71,
            load_id=hr_id,
        ),
        sample(
            "heart_rate", "spring", utc(2026, 3, 7, 15, 5), EST, beats_per_minute=72, load_id=hr_id
        ),
        sample(
            "heart_rate",
            "spring",
            utc(2026, 3, 7, 15, 6, 30),
            EST,
            beats_per_minute=73,
            load_id=hr_id,
        ),
        sample(
            "heart_rate", "spring", utc(2026, 3, 8, 12), EDT, beats_per_minute=60, load_id=hr_id
        ),
        sample(
            "heart_rate",
            "spring",
            utc(2026, 3, 8, 12, 0, 30),
            EDT,
            beats_per_minute=61,
            load_id=hr_id,
        ),
        # 01:30 local twice: EDT, then EST an hour later.
        sample(
            "heart_rate",
            "fall",
            utc(2026, 11, 1, 5, 30),
            EDT,
            beats_per_minute=55,
            load_id=ids["fall", "heart_rate"],
        ),
        sample(
            "heart_rate",
            "fall",
            utc(2026, 11, 1, 6, 30),
            EST,
            beats_per_minute=56,
            load_id=ids["fall", "heart_rate"],
        ),
    ]
    sleep_id = ids["spring", "sleep"]
    sleep = [
        interval(
            "sleep",
            "spring",
            utc(2026, 3, 8, 4),
            utc(2026, 3, 8, 11),
            start_offset=EST,
            end_offset=EDT,
            is_main_sleep=True,
            minutes_asleep=400,
            load_id=sleep_id,
        ),
        interval(
            "sleep",
            "spring",
            utc(2026, 3, 8, 18),
            utc(2026, 3, 8, 18, 40),
            offset=EDT,
            is_main_sleep=False,
            minutes_asleep=35,
            load_id=sleep_id,
        ),
    ]
    insert(client, dataset, "load_windows", loads.rows)
    insert(client, dataset, "steps", steps)
    insert(client, dataset, "heart_rate", heart_rate)
    insert(client, dataset, "sleep", sleep)
    insert(
        client,
        dataset,
        "distance",
        [
            interval(
                "distance",
                "spring",
                utc(2026, 3, 8, 14),
                utc(2026, 3, 8, 14, 1),
                offset=EDT,
                distance_millimeters=700,
                load_id=ids["spring", "distance"],
            ),
        ],
    )
    insert(
        client,
        dataset,
        "daily_resting_heart_rate",
        [
            row(
                "daily_resting_heart_rate",
                user_key="spring",
                civil_date="2026-03-08",
                stream="reconciled",
                beats_per_minute=58,
                load_id=ids["spring", "daily_resting_heart_rate"],
            ),
        ],
    )
    insert(
        client,
        dataset,
        "weight",
        [
            sample(
                "weight",
                "nozone",
                utc(2026, 3, 8, 7),
                0,
                weight_grams=70000.0,
                load_id=ids["nozone", "weight"],
            ),
        ],
    )
    snapshot = dict(civil_date="2026-12-01", loaded_at=study_rows.LOADED_AT)
    insert(
        client,
        dataset,
        "user_settings",
        [
            row("user_settings", user_key="spring", time_zone=NY, **snapshot),
            row("user_settings", user_key="fall", time_zone=NY, **snapshot),
            # An older snapshot of another zone: the latest one counts, not the greatest.
            row(
                "user_settings",
                user_key="fall",
                time_zone="Pacific/Auckland",
                civil_date="2026-11-20",
                loaded_at="2026-11-20T00:00:00Z",
                record_key="fall-settings-older",
            ),
        ],
    )
    insert(
        client,
        dataset,
        "paired_devices",
        [
            row(
                "paired_devices",
                user_key="spring",
                device_id="1",
                device_type="TRACKER",
                device_version="Charge 6",
                features=CHARGE_6,
                **snapshot,
            ),
            # A tracker of an older snapshot, unpaired since: it expects nothing.
            row(
                "paired_devices",
                user_key="spring",
                device_id="0",
                device_type="TRACKER",
                device_version="Inspire 2",
                features=["STEPS", "ELEVATION"],
                civil_date="2026-11-20",
                loaded_at="2026-11-20T00:00:00Z",
                record_key="spring-tracker-older",
            ),
        ],
    )
    return client, dataset


def day(user, date, **values) -> ParticipantDay:
    fields = dict(
        time_zone=NY,
        day_minutes=1440,
        worn_minutes=0,
        worn_minutes_heart_rate=0,
        worn_minutes_disagree=0,
        step_count=None,
        main_sleep_recorded=False,
        main_sleep_minutes=None,
        data_types=(),
        expected_data_types=EXPECTED,
        completeness=0.0,
    )
    fields.update(values)
    return ParticipantDay(
        user_key=user,
        civil_date=date,
        heart_rate_coverage=fields["worn_minutes_heart_rate"] / fields["day_minutes"],
        **fields,
    )


def read_days(client, dataset, start, end) -> list[ParticipantDay]:
    days = study_days.read_days(client, dataset, start, end)
    return [d for d in days if d.user_key in USERS]


def test_participant_days_counts_wear_steps_sleep_and_completeness(dataset):
    client, name = dataset
    days = read_days(client, name, dt.date(2026, 3, 1), dt.date(2026, 12, 31))
    assert days == [
        day(
            "fall",
            dt.date(2026, 11, 1),
            day_minutes=1500,
            worn_minutes=1500,
            worn_minutes_heart_rate=2,
            worn_minutes_disagree=1498,
            step_count=250,
            data_types=("heart_rate", "steps"),
            expected_data_types=(),
            completeness=None,
        ),
        day(
            "nozone",
            dt.date(2026, 3, 8),
            time_zone=None,
            data_types=("weight",),
            expected_data_types=(),
            completeness=None,
        ),
        day(
            "spring",
            dt.date(2026, 3, 7),
            worn_minutes=6,
            worn_minutes_heart_rate=3,
            worn_minutes_disagree=7,
            step_count=50,
            data_types=("heart_rate", "steps"),
            completeness=0.4,
        ),
        day(
            "spring",
            dt.date(2026, 3, 8),
            day_minutes=1380,
            worn_minutes=1380,
            worn_minutes_heart_rate=1,
            worn_minutes_disagree=1379,
            step_count=2300,
            main_sleep_recorded=True,
            main_sleep_minutes=400,
            data_types=EXPECTED,
            completeness=1.0,
        ),
        day("spring", dt.date(2026, 3, 9)),
    ]


def test_a_range_keeps_only_its_days(dataset):
    client, name = dataset
    days = read_days(client, name, dt.date(2026, 3, 8), dt.date(2026, 3, 8))
    assert [(d.user_key, d.civil_date) for d in days] == [
        ("nozone", dt.date(2026, 3, 8)),
        ("spring", dt.date(2026, 3, 8)),
    ]
