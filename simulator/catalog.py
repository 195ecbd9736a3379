"""What the simulated Google Health API v4 knows about each data type.

This catalogue is the simulator's own reading of the discovery document and
`../shared/docs/google-health-api.md`. It is deliberately kept apart from the
pipeline's client-side catalogue: if the client misreads the API, the simulator
must not silently share the mistake.
"""

from __future__ import annotations

import dataclasses
import enum

SCOPE_PREFIX = "https://www.googleapis.com/auth/googlehealth."

ACTIVITY = "activity_and_fitness"
METRICS = "health_metrics_and_measurements"
SLEEP = "sleep"
LOCATION = "location"
PROFILE = "profile"
SETTINGS = "settings"
ECG = "ecg"
IRN = "irn"
REPRODUCTIVE = "reproductive_health"
SYMPTOMS = "logged_symptoms"
MINDFULNESS = "mindfulness"

# Every scope the simulator's consent screen accepts (read and write families,
# as listed in the discovery document), plus OpenID scopes Google also accepts.
KNOWN_SCOPES = frozenset(
    [
        *(
            f"{SCOPE_PREFIX}{family}.{mode}"
            for family in (
                ACTIVITY,
                METRICS,
                SLEEP,
                PROFILE,
                SETTINGS,
                "nutrition",
                REPRODUCTIVE,
                SYMPTOMS,
                MINDFULNESS,
            )
            for mode in ("readonly", "writeonly")
        ),
        f"{SCOPE_PREFIX}ecg.readonly",
        f"{SCOPE_PREFIX}irn.readonly",
        f"{SCOPE_PREFIX}location.readonly",
        "openid",
        "email",
        "profile",
    ]
)


# Page sizes of the discovery document, by method: (default, maximum). list and reconcile
# serve sleep and exercise in pages of at most 25 (also their default); dailyRollUp
# pages of at most 14 for the types whose rollup range is 14 days. Larger values are
# truncated to the maximum. tests/simulator/test_paging.py reads them out of the document.
LIST_PAGE = (1440, 10000)
SESSION_PAGE = (25, 25)
ROLLUP_PAGE = (1440, 10000)
DAILY_ROLLUP_PAGE = (90, 90)
SHORT_DAILY_ROLLUP_PAGE = (14, 14)
PAIRED_DEVICES_PAGE = (5, 100)


def read_scope(family: str) -> str:
    """Returns the read-only scope URL of a scope family."""
    return f"{SCOPE_PREFIX}{family}.readonly"


class Kind(enum.Enum):
    """How a data type places its points in time."""

    INTERVAL = "interval"  # interval{startTime,endTime,...}
    SAMPLE = "sample"  # sampleTime{physicalTime,utcOffset,civilTime}
    DAILY = "daily"  # date{year,month,day} in the user's zone
    SESSION = "session"  # interval as INTERVAL, one point per session (sleep, ECG, ...)
    ROLLUP_ONLY = "rollup_only"  # no points; only rollUp / dailyRollUp


@dataclasses.dataclass(frozen=True)
class DataType:
    """One data type of the API, as the simulator serves it.

    Attributes:
        name: URL name, kebab-case (`heart-rate`).
        kind: how points are placed in time.
        scope: scope family needed to read it.
        filter_members: filter members accepted after `{snake_name}.`.
        identifiable: points have a `name` and can be fetched with `get`.
        max_page_size: list/reconcile page cap (also the default for sessions).
        rollup_range_days: maximum rollUp/dailyRollUp range, None if not rollable.
        or_allowed: filter may use OR (sleep only).
        roll_up: `rollUp` is served; False for the types that only `dailyRollUp`
            (their personal range) when `rollup_range_days` is set.
        rollup_key: the rollup value's key in RollupDataPoint / DailyRollupDataPoint
            when it is not the type's `json_key` (`restingHeartRatePersonalRange`).
        upper_bounds: the filter accepts `<` comparisons; electrocardiogram's filter
            takes `interval.start_time >=` only.
        reconcilable: `reconcile` serves the type (the discovery document's
            ReconciledDataPoint has no member for ECG, IRN and the logged
            reproductive, mood and symptom types).
        unset_page_size: the page the live API answers without `pageSize` where it
            differs from the documented default (heart rate: 50 points, not 1,440).
    """

    name: str
    kind: Kind
    scope: str
    filter_members: tuple[str, ...]
    identifiable: bool = False
    max_page_size: int = LIST_PAGE[1]
    rollup_range_days: int | None = None
    or_allowed: bool = False
    roll_up: bool = True
    rollup_key: str | None = None
    upper_bounds: bool = True
    reconcilable: bool = True
    unset_page_size: int | None = None

    @property
    def rollup_json_key(self) -> str:
        """The union key of this type's rollup values (`steps`, `restingHeartRatePersonalRange`)."""
        return self.rollup_key or self.json_key

    @property
    def json_key(self) -> str:
        """camelCase union key used in DataPoint bodies (`heartRate`)."""
        head, *rest = self.name.split("-")
        return head + "".join(part.capitalize() for part in rest)

    @property
    def filter_name(self) -> str:
        """snake_case name used as the filter prefix (`heart_rate`)."""
        return self.name.replace("-", "_")

    @property
    def default_page_size(self) -> int:
        """The page list and reconcile answer without `pageSize`."""
        return self.unset_page_size or min(self.max_page_size, LIST_PAGE[0])

    @property
    def listable(self) -> bool:
        return self.kind is not Kind.ROLLUP_ONLY

    @property
    def daily_rollup_page_size(self) -> int:
        """dailyRollUp default and maximum page size (14 for the 14-day types)."""
        if self.rollup_range_days == 14:
            return SHORT_DAILY_ROLLUP_PAGE[1]
        return DAILY_ROLLUP_PAGE[1]


_INTERVAL_MEMBERS = ("interval.start_time", "interval.civil_start_time")
_SAMPLE_MEMBERS = ("sample_time.physical_time", "sample_time.civil_time")
_DAILY_MEMBERS = ("date",)

DATA_TYPES: dict[str, DataType] = {
    t.name: t
    for t in (
        DataType("steps", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90),
        DataType("distance", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90),
        DataType("floors", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90),
        DataType(
            "active-zone-minutes", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90
        ),
        DataType(
            "heart-rate",
            Kind.SAMPLE,
            METRICS,
            _SAMPLE_MEMBERS,
            rollup_range_days=14,
            unset_page_size=50,
        ),
        DataType("heart-rate-variability", Kind.SAMPLE, METRICS, _SAMPLE_MEMBERS),
        DataType(
            "daily-resting-heart-rate",
            Kind.DAILY,
            METRICS,
            _DAILY_MEMBERS,
            rollup_range_days=90,
            roll_up=False,
            rollup_key="restingHeartRatePersonalRange",
        ),
        DataType("daily-heart-rate-zones", Kind.DAILY, METRICS, _DAILY_MEMBERS),
        DataType(
            "daily-heart-rate-variability",
            Kind.DAILY,
            METRICS,
            _DAILY_MEMBERS,
            rollup_range_days=90,
            roll_up=False,
            rollup_key="heartRateVariabilityPersonalRange",
        ),
        DataType("daily-oxygen-saturation", Kind.DAILY, METRICS, _DAILY_MEMBERS),
        DataType("daily-respiratory-rate", Kind.DAILY, METRICS, _DAILY_MEMBERS),
        DataType("daily-vo2-max", Kind.DAILY, ACTIVITY, _DAILY_MEMBERS),
        DataType(
            "sleep",
            Kind.SESSION,
            SLEEP,
            ("interval.end_time", "interval.civil_end_time"),
            identifiable=True,
            max_page_size=SESSION_PAGE[1],
            or_allowed=True,
        ),
        DataType(
            "exercise",
            Kind.SESSION,
            ACTIVITY,
            ("interval.civil_start_time",),
            identifiable=True,
            max_page_size=SESSION_PAGE[1],
        ),
        DataType(
            "weight",
            Kind.SAMPLE,
            METRICS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            rollup_range_days=90,
        ),
        DataType(
            "body-fat",
            Kind.SAMPLE,
            METRICS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            rollup_range_days=90,
        ),
        DataType("total-calories", Kind.ROLLUP_ONLY, ACTIVITY, (), rollup_range_days=14),
        DataType(
            "calories-in-heart-rate-zone", Kind.ROLLUP_ONLY, ACTIVITY, (), rollup_range_days=14
        ),
        # Minute intervals derived from the same minutes as steps and heart rate.
        DataType(
            "active-energy-burned", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90
        ),
        DataType("basal-energy-burned", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS),
        DataType(
            "active-minutes", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=14
        ),
        DataType(
            "activity-level", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90
        ),
        DataType(
            "sedentary-period", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90
        ),
        DataType(
            "time-in-heart-rate-zone",
            Kind.INTERVAL,
            ACTIVITY,
            _INTERVAL_MEMBERS,
            rollup_range_days=90,
        ),
        DataType("altitude", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90),
        DataType(
            "swim-lengths-data", Kind.INTERVAL, ACTIVITY, _INTERVAL_MEMBERS, rollup_range_days=90
        ),
        DataType(
            "menstrual-period",
            Kind.INTERVAL,
            REPRODUCTIVE,
            _INTERVAL_MEMBERS,
            identifiable=True,
            reconcilable=False,
        ),
        # Samples.
        DataType("oxygen-saturation", Kind.SAMPLE, METRICS, _SAMPLE_MEMBERS),
        DataType("respiratory-rate-sleep-summary", Kind.SAMPLE, METRICS, _SAMPLE_MEMBERS),
        DataType("height", Kind.SAMPLE, METRICS, _SAMPLE_MEMBERS, identifiable=True),
        DataType("vo2-max", Kind.SAMPLE, ACTIVITY, _SAMPLE_MEMBERS),
        DataType("run-vo2-max", Kind.SAMPLE, ACTIVITY, _SAMPLE_MEMBERS, rollup_range_days=90),
        DataType(
            "blood-glucose",
            Kind.SAMPLE,
            METRICS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            rollup_range_days=90,
        ),
        DataType(
            "core-body-temperature",
            Kind.SAMPLE,
            METRICS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            rollup_range_days=90,
        ),
        DataType(
            "moods",
            Kind.SAMPLE,
            MINDFULNESS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            reconcilable=False,
        ),
        DataType(
            "symptoms",
            Kind.SAMPLE,
            SYMPTOMS,
            _SAMPLE_MEMBERS,
            identifiable=True,
            reconcilable=False,
        ),
        DataType(
            "ovulation-test",
            Kind.SAMPLE,
            REPRODUCTIVE,
            _SAMPLE_MEMBERS,
            identifiable=True,
            reconcilable=False,
        ),
        DataType("daily-sleep-temperature-derivations", Kind.DAILY, METRICS, _DAILY_MEMBERS),
        # Sessions without names: a reading (ECG) or a notification (IRN) each.
        DataType(
            "electrocardiogram",
            Kind.SESSION,
            ECG,
            ("interval.start_time",),
            upper_bounds=False,
            reconcilable=False,
        ),
        DataType(
            "irregular-rhythm-notification",
            Kind.SESSION,
            IRN,
            ("interval.civil_start_time",),
            reconcilable=False,
        ),
    )
}

# Data types the real API documents but the simulator does not serve. Asking for
# one gives a clear 400 rather than the "unknown data type" error, so a test can
# tell "not simulated" from "misspelt".
NOT_SIMULATED = frozenset(
    [
        # Write-only today: the discovery document has no nutrition.readonly scope.
        "food",
        "food-measurement-unit",
        "hydration-log",
        "nutrition-log",
    ]
)
