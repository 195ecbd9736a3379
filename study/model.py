"""What the study commands pass between them: participant-days, participant status,
and the report's data.

`ParticipantDay` is one row of the `participant_days` view (schemas/study_views.py);
`ParticipantStatus` is one line of `fitbeam status` (study/status.py);
`ReportData` is everything `fitbeam report` draws (study/report.py), gathered
by study/data.py. All are plain values: no client, token or secret.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

# Consent states of a participant (ParticipantStatus.consent).
CONSENT_ACTIVE = "active"  # a token is in the store and the last load did not lose it
CONSENT_NEEDED = "consent_needed"  # no token, or the grant was refused (invalid_grant)
CONSENT_WITHDRAWN = "withdrawn"  # `fitbeam forget` ran; refused until they consent again
CONSENT_STATES = (CONSENT_ACTIVE, CONSENT_NEEDED, CONSENT_WITHDRAWN)

# The default valid-day rule: at least this many worn minutes (10 hours), configurable.
DEFAULT_VALID_DAY_MINUTES = 600


@dataclasses.dataclass(frozen=True)
class ParticipantDay:
    """One participant's civil day, as the `participant_days` view gives it."""

    user_key: str
    civil_date: dt.date
    time_zone: str | None
    day_minutes: int  # 1440; 1380 or 1500 on a DST day in the participant's zone
    worn_minutes: int  # the chosen definition (docs/study.md)
    worn_minutes_heart_rate: int  # minutes with at least one heart-rate sample
    worn_minutes_disagree: int  # minutes worn by one signal and not the other
    heart_rate_coverage: float  # worn_minutes_heart_rate / day_minutes, 0..1
    step_count: int | None
    main_sleep_recorded: bool
    main_sleep_minutes: int | None  # minutes asleep of the day's main sleep
    data_types: tuple[str, ...]  # tables with at least one row that day, sorted
    expected_data_types: tuple[str, ...]  # what the participant's devices produce, sorted
    completeness: float | None  # share of expected_data_types present, 0..1; None if none


@dataclasses.dataclass(frozen=True)
class ParticipantStatus:
    """One participant now: what `fitbeam status` prints and `--json` writes."""

    user_key: str
    consent: str  # one of CONSENT_STATES
    consent_detail: str  # e.g. "invalid_grant on 2026-12-04", "withdrawn 2026-12-05"
    last_load: dt.datetime | None  # latest loaded_at in load_windows
    last_sync: dt.datetime | None  # newest lastSyncTime of their paired devices
    device: str | None  # device_version of the device that synced last
    battery_level: int | None
    battery_status: str | None
    days_with_data_7: int  # of the last 7 complete days
    days_with_data_30: int
    valid_days_7: int  # days meeting the valid-day rule, of the last 7
    valid_days_30: int
    open_dead_letters: int
    attention: tuple[str, ...]  # why they need attention, most urgent first; () = fine

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        for key in ("last_load", "last_sync"):
            value = out[key]
            out[key] = value.isoformat().replace("+00:00", "Z") if value else None
        out["attention"] = list(self.attention)
        return out


@dataclasses.dataclass(frozen=True)
class TypeCompleteness:
    """One data type over the report's range: participant-days with data / expected."""

    table: str
    days_with_data: int
    days_expected: int


@dataclasses.dataclass(frozen=True)
class ReportData:
    """Everything the report draws, for one date range."""

    dataset: str  # project:dataset it was read from
    start_date: dt.date
    end_date: dt.date
    generated_at: dt.datetime
    valid_day_minutes: int
    days: tuple[ParticipantDay, ...]
    participants: tuple[ParticipantStatus, ...]
    completeness: tuple[TypeCompleteness, ...]
