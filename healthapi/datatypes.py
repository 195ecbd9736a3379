"""The pipeline's catalogue of Google Health API v4 data types.

One declarative entry per supported data type: how its points sit in time,
which OAuth scope reads it, which filter member bounds a time window, the
API's page and rollup caps, and the BigQuery table its rows go to. Facts come
from the API's discovery document (`health.v4.json`); see
`../shared/docs/google-health-api.md` for the quirks behind each choice.
"""

from __future__ import annotations

import dataclasses
import enum
import math

SCOPE_PREFIX = "https://www.googleapis.com/auth/googlehealth."

# list/reconcile: the largest page the discovery document allows (larger values are
# truncated to it); sleep and exercise have their own, smaller cap.
MAX_PAGE_SIZE = 10000
SESSION_PAGE_SIZE = 25


class Kind(enum.Enum):
    INTERVAL = "interval"
    SAMPLE = "sample"
    DAILY = "daily"
    SESSION = "session"
    ROLLUP_ONLY = "rollup_only"


@dataclasses.dataclass(frozen=True)
class DataTypeSpec:
    """How fitbeam reads one data type.

    Attributes:
        name: the API's URL name (`heart-rate`).
        kind: how points are placed in time.
        scope_family: OAuth scope family that grants read access.
        window_member: filter member used to select a civil-day window, or None
            for rollup-only types.
        max_per_day: the most points one civil day of the type holds in one stream
            at the densest cadence the API produces (list windows are sized from it,
            see `healthapi.planning.window_hours`); more is read all the same, in
            more pages.
        page_size: the largest page the API serves for list/reconcile.
        rollup_days: the API's maximum rollUp/dailyRollUp range, None if not rollable.
        identifiable: points carry a `name` (id) and can be fetched one by one.
        table: BigQuery table of its rows, None when it has no table of its own.
        open_ended: the window member takes only a lower bound (`>=`): a call asks
            for every point from its window's start, and the client keeps only those
            that start before the window's end (`healthapi.planning.keeps_point`).
        reconcilable: `dataPoints:reconcile` serves the type (the discovery document's
            ReconciledDataPoint has a member for it); the others are read with the
            list method whatever stream is asked for (`healthapi.planning.plan_calls`).
    """

    name: str
    kind: Kind
    scope_family: str
    window_member: str | None
    max_per_day: int = 0
    page_size: int = MAX_PAGE_SIZE
    rollup_days: int | None = None
    identifiable: bool = False
    table: str | None = None
    open_ended: bool = False
    reconcilable: bool = True

    @property
    def json_key(self) -> str:
        """The DataPoint union key (`heartRate`)."""
        head, *rest = self.name.split("-")
        return head + "".join(part.capitalize() for part in rest)

    @property
    def filter_name(self) -> str:
        """The snake_case prefix filters use (`heart_rate`)."""
        return self.name.replace("-", "_")

    @property
    def day_from_end(self) -> bool:
        """Points belong to the civil day they end on (sleep), not the one they start on."""
        return self.window_member == "interval.civil_end_time"

    @property
    def scope(self) -> str:
        return f"{SCOPE_PREFIX}{self.scope_family}.readonly"


ACTIVITY = "activity_and_fitness"
METRICS = "health_metrics_and_measurements"
SLEEP = "sleep"
ECG = "ecg"
IRN = "irn"
REPRODUCTIVE = "reproductive_health"
SYMPTOMS = "logged_symptoms"
MINDFULNESS = "mindfulness"
LOCATION_SCOPE = f"{SCOPE_PREFIX}location.readonly"
SETTINGS_SCOPE = f"{SCOPE_PREFIX}settings.readonly"
PROFILE_SCOPE = f"{SCOPE_PREFIX}profile.readonly"
IRN_SCOPE = f"{SCOPE_PREFIX}{IRN}.readonly"

_CIVIL_START = "interval.civil_start_time"
_CIVIL_SAMPLE = "sample_time.civil_time"
# Electrocardiograms filter on the physical start only, and only with `>=`.
_START = "interval.start_time"

# Densest cadences, in points per civil day and stream. The fact sheet: the API stores
# intervals by the minute, daily types hold one point a day. The heart-rate sample spacing
# is not documented: 5 s is the simulator's. HRV comes every 5 minutes of a night's sleep.
# Sessions and weigh-ins have no cadence: these are generous counts for one day. Types
# without a documented cadence that a device may record continuously (sedentary periods,
# swim lengths, oxygen saturation in sleep, glucose monitors, core temperature sensors)
# are counted as one a minute; logged entries (moods, symptoms, tests) as LOGGED a day.
_PER_MINUTE = 24 * 60
_PER_5_SECONDS = 24 * 60 * 12
_PER_5_MINUTES = 24 * 12
_DAILY = 1
_SESSIONS = 4
_WEIGH_INS = 8
_LOGGED = 24

SPECS: dict[str, DataTypeSpec] = {
    s.name: s
    for s in (
        DataTypeSpec(
            "steps",
            Kind.INTERVAL,
            ACTIVITY,
            _CIVIL_START,
            _PER_MINUTE,
            rollup_days=90,
            table="steps",
        ),
        DataTypeSpec(
            "distance",
            Kind.INTERVAL,
            ACTIVITY,
            _CIVIL_START,
            _PER_MINUTE,
            rollup_days=90,
            table="distance",
        ),
        DataTypeSpec(
            "floors",
            Kind.INTERVAL,
            ACTIVITY,
            _CIVIL_START,
            _PER_MINUTE,
            rollup_days=90,
            table="floors",
        ),
        DataTypeSpec(
            "active-zone-minutes",
            Kind.INTERVAL,
            ACTIVITY,
            _CIVIL_START,
            _PER_MINUTE,
            rollup_days=90,
            table="active_zone_minutes",
        ),
        DataTypeSpec(
            "heart-rate",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _PER_5_SECONDS,
            rollup_days=14,
            table="heart_rate",
        ),
        DataTypeSpec(
            "heart-rate-variability",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _PER_5_MINUTES,
            table="heart_rate_variability",
        ),
        DataTypeSpec(
            "daily-resting-heart-rate",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_resting_heart_rate",
        ),
        DataTypeSpec(
            "daily-heart-rate-zones",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_heart_rate_zones",
        ),
        DataTypeSpec(
            "daily-heart-rate-variability",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_heart_rate_variability",
        ),
        DataTypeSpec(
            "daily-oxygen-saturation",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_oxygen_saturation",
        ),
        DataTypeSpec(
            "daily-respiratory-rate",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_respiratory_rate",
        ),
        DataTypeSpec("daily-vo2-max", Kind.DAILY, ACTIVITY, "date", _DAILY, table="daily_vo2_max"),
        # Sleep is filtered on its end: a sleep belongs to the civil day it ends on.
        DataTypeSpec(
            "sleep",
            Kind.SESSION,
            SLEEP,
            "interval.civil_end_time",
            _SESSIONS,
            page_size=SESSION_PAGE_SIZE,
            identifiable=True,
            table="sleep",
        ),
        DataTypeSpec(
            "exercise",
            Kind.SESSION,
            ACTIVITY,
            _CIVIL_START,
            _SESSIONS,
            page_size=SESSION_PAGE_SIZE,
            identifiable=True,
            table="exercise",
        ),
        DataTypeSpec(
            "weight",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _WEIGH_INS,
            rollup_days=90,
            identifiable=True,
            table="weight",
        ),
        DataTypeSpec(
            "body-fat",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _WEIGH_INS,
            rollup_days=90,
            identifiable=True,
            table="body_fat",
        ),
        DataTypeSpec("total-calories", Kind.ROLLUP_ONLY, ACTIVITY, None, rollup_days=14),
        # Below: the types of the discovery document read since version 0.4 (none rolls up
        # in fitbeam: it lists their points).
        *(
            DataTypeSpec(name, Kind.INTERVAL, ACTIVITY, _CIVIL_START, _PER_MINUTE, table=table)
            for name, table in (
                ("active-energy-burned", "active_energy_burned"),
                ("basal-energy-burned", "basal_energy_burned"),
                ("active-minutes", "active_minutes"),
                ("activity-level", "activity_level"),
                ("sedentary-period", "sedentary_period"),
                ("time-in-heart-rate-zone", "time_in_heart_rate_zone"),
                ("altitude", "altitude"),
                ("swim-lengths-data", "swim_lengths_data"),
            )
        ),
        DataTypeSpec(
            "menstrual-period",
            Kind.INTERVAL,
            REPRODUCTIVE,
            _CIVIL_START,
            _SESSIONS,
            identifiable=True,
            table="menstrual_period",
            reconcilable=False,
        ),
        DataTypeSpec(
            "oxygen-saturation",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _PER_MINUTE,
            table="oxygen_saturation",
        ),
        DataTypeSpec(
            "respiratory-rate-sleep-summary",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _SESSIONS,
            table="respiratory_rate_sleep_summary",
        ),
        DataTypeSpec(
            "height",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _WEIGH_INS,
            identifiable=True,
            table="height",
        ),
        DataTypeSpec("vo2-max", Kind.SAMPLE, ACTIVITY, _CIVIL_SAMPLE, _WEIGH_INS, table="vo2_max"),
        DataTypeSpec(
            "run-vo2-max", Kind.SAMPLE, ACTIVITY, _CIVIL_SAMPLE, _SESSIONS, table="run_vo2_max"
        ),
        DataTypeSpec(
            "blood-glucose",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _PER_MINUTE,
            identifiable=True,
            table="blood_glucose",
        ),
        DataTypeSpec(
            "core-body-temperature",
            Kind.SAMPLE,
            METRICS,
            _CIVIL_SAMPLE,
            _PER_MINUTE,
            identifiable=True,
            table="core_body_temperature",
        ),
        DataTypeSpec(
            "moods",
            Kind.SAMPLE,
            MINDFULNESS,
            _CIVIL_SAMPLE,
            _LOGGED,
            identifiable=True,
            table="moods",
            reconcilable=False,
        ),
        DataTypeSpec(
            "symptoms",
            Kind.SAMPLE,
            SYMPTOMS,
            _CIVIL_SAMPLE,
            _LOGGED,
            identifiable=True,
            table="symptoms",
            reconcilable=False,
        ),
        DataTypeSpec(
            "ovulation-test",
            Kind.SAMPLE,
            REPRODUCTIVE,
            _CIVIL_SAMPLE,
            _LOGGED,
            identifiable=True,
            table="ovulation_test",
            reconcilable=False,
        ),
        DataTypeSpec(
            "daily-sleep-temperature-derivations",
            Kind.DAILY,
            METRICS,
            "date",
            _DAILY,
            table="daily_sleep_temperature_derivations",
        ),
        # A reading is 30 s; LOGGED a day is more than anyone records. The filter has no
        # upper bound, so a window reads every later reading too (and drops them): windows
        # this long make one call of any request, read newest first.
        DataTypeSpec(
            "electrocardiogram",
            Kind.SESSION,
            ECG,
            _START,
            _LOGGED,
            table="electrocardiogram",
            open_ended=True,
            reconcilable=False,
        ),
        DataTypeSpec(
            "irregular-rhythm-notification",
            Kind.SESSION,
            IRN,
            _CIVIL_START,
            _SESSIONS,
            table="irregular_rhythm_notification",
            reconcilable=False,
        ),
    )
}

DEFAULT_DATA_TYPES = tuple(SPECS)

# The daily activity summary: dailyRollUp answers of these types, into SUMMARY_TABLE
# (healthapi.planning, healthapi.calls.fetch_summary, rows.daily_summary). One summary
# call covers up to SUMMARY_DAYS days: a whole number of every type's rollup range (630:
# 7 x 90 and 45 x 14), so each type needs no more dailyRollUps than its range cap forces.
SUMMARY_TABLE = "daily_activity_summary"
SUMMARY_TYPES = ("steps", "distance", "floors", "total-calories", "active-zone-minutes")
SUMMARY_DAYS = math.lcm(*(SPECS[t].rollup_days for t in SUMMARY_TYPES))


def spec(name: str) -> DataTypeSpec:
    """The spec of a data type by its API name.

    Raises:
        ValueError: naming the unknown type and listing the supported ones.
    """
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown data type {name[:60]!r}; supported: {', '.join(SPECS)}"
        ) from None


def scopes_for(
    data_types: list[str] | tuple[str, ...], exercise_tcx: bool = True, user_tables: bool = True
) -> list[str]:
    """The read scopes needed for these data types, sorted.

    Settings are always asked for (the user's time zone decides their civil
    "yesterday"); exporting exercise TCX also needs the location scope, and the
    user-level tables (paired devices, profile, settings, IRN profile; on by
    default, `--user_tables`) the profile and IRN scopes.
    """
    scopes = {spec(name).scope for name in data_types} | {SETTINGS_SCOPE}
    if exercise_tcx and "exercise" in data_types:
        scopes.add(LOCATION_SCOPE)
    if user_tables:
        scopes |= {PROFILE_SCOPE, IRN_SCOPE}
    return sorted(scopes)
