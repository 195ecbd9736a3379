"""User-level resources -> rows of paired_devices, user_profile, user_settings, irn_profile.

Pure and Beam-free, like `rows.datapoints`, whose value rules it follows: a field
the answer leaves out is NULL, never a made-up value, except the IRN profile's
two required booleans, which proto3 JSON leaves out when they are false.

Every row is a snapshot of one load: `loaded_at` is when the answer was turned
into rows, `civil_date` (the partition column) its UTC date. The record key of
a paired device is the user, the device and that date; of a profile, settings
or IRN profile the user alone. So loading again the same day appends versions
of the same records (keep the latest `ingest_time`, then `loaded_at`), while the
table keeps every snapshot: a device's battery level and last sync load after
load, a user's settings as they change.

Usage::

    ctx = RowContext(user_key="p-0042", run_id="run-1", ingest_time=run_start_utc)
    for table, row in user_rows("paired-devices", devices, ctx, loaded_at):
        ...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from healthapi import user_resources
from rows.datapoints import RowContext, RowError
from schemas.convert import utc_text

# proto3 Duration of a UTC offset: whole seconds, at most 18 hours either way.
_OFFSET = re.compile(r"(-?[0-9]{1,5})(?:\.0{1,9})?s")
_MAX_OFFSET_SECONDS = 18 * 3600
_INT32 = (-(2**31), 2**31 - 1)


# --------------------------------------------------------------------------- values


def _object(value: Any, path: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise RowError(path, f"expected a JSON object, got {value!r:.60}")
    return value


def _text(obj: Mapping, key: str, path: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RowError(f"{path}.{key}", f"expected a string, got {value!r:.60}")


def _int(obj: Mapping, key: str, path: str) -> int | None:
    """An int32 field: a JSON number or, as proto3 JSON allows, a decimal string."""
    value = obj.get(key)
    if value is None:
        return None
    whole_text = isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,10}", value)
    if whole_text or (isinstance(value, float) and value.is_integer()):
        value = int(value)
    if type(value) is not int or not _INT32[0] <= value <= _INT32[1]:
        raise RowError(f"{path}.{key}", f"expected a whole number, got {obj.get(key)!r:.60}")
    return value


def _bool(obj: Mapping, key: str, path: str) -> bool | None:
    value = obj.get(key)
    if value is None or type(value) is bool:
        return value
    raise RowError(f"{path}.{key}", f"expected true or false, got {value!r:.60}")


def _instant(obj: Mapping, key: str, path: str) -> dt.datetime | None:
    """An RFC 3339 timestamp -> tz-aware UTC datetime (beyond microseconds truncated)."""
    value = obj.get(key)
    if value is None:
        return None
    where = f"{path}.{key}"
    if not isinstance(value, str) or len(value) < 20 or value[10] not in "Tt":
        raise RowError(where, f"expected an RFC 3339 timestamp, got {value!r:.60}")
    text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", value).replace("z", "Z")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RowError(where, f"expected an RFC 3339 timestamp, got {value!r:.60}") from None
    if moment.tzinfo is None:
        raise RowError(where, f"timestamp has no Z or UTC offset: {value!r:.60}")
    return moment.astimezone(dt.UTC)


def _date(obj: Mapping, key: str, path: str) -> dt.date | None:
    """A google.type.Date ({year, month, day}) -> date; None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    where = f"{path}.{key}"
    try:
        return dt.date(int(value["year"]), int(value["month"]), int(value["day"]))
    # OverflowError: a year past what a C int holds.
    except (KeyError, TypeError, ValueError, OverflowError):
        raise RowError(where, f"expected a date {{year, month, day}}, got {value!r:.60}") from None


def _offset_seconds(obj: Mapping, key: str, path: str) -> int | None:
    """A proto3 Duration UTC offset (`"-18000s"`, `"0s"`) -> seconds east of UTC."""
    value = obj.get(key)
    if value is None:
        return None
    match = _OFFSET.fullmatch(value) if isinstance(value, str) else None
    if not match or abs(int(match.group(1))) > _MAX_OFFSET_SECONDS:
        raise RowError(
            f"{path}.{key}", f"expected a UTC offset such as '-18000s', got {value!r:.60}"
        )
    return int(match.group(1))


def _strings(obj: Mapping, key: str, path: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RowError(f"{path}.{key}", f"expected a list of strings, got {value!r:.60}")
    return list(value)


def _last_segment(name: str | None, path: str) -> str:
    """The id at the end of a resource name (`users/me/pairedDevices/123` -> `123`)."""
    segment = name.rsplit("/", 1)[-1] if name else ""
    if not segment:
        raise RowError(f"{path}.name", f"expected a resource name, got {name!r:.60}")
    return segment


# --------------------------------------------------------------------------- keys


def _key_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def user_record_key(table: str, user_key: str, *values: object) -> str:
    """The record key as the tables' record_key docs spell it: the lowercase hex SHA-256 of
    the UTF-8 text joining user_key, the table's name and `values` with U+001F (nulls as
    empty strings, timestamps RFC 3339 UTC with six fractional digits, dates YYYY-MM-DD)."""
    text = "\x1f".join(_key_text(v) for v in (user_key, table, *values))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- rows


def _head(ctx: RowContext, loaded_at: dt.datetime) -> dict:
    return {"user_key": ctx.user_key, "civil_date": loaded_at.date(), "loaded_at": loaded_at}


def _tail(row: dict, ctx: RowContext, table: str, *key: object) -> dict:
    row["record_key"] = user_record_key(table, ctx.user_key, *key)
    row["run_id"] = ctx.run_id
    row["ingest_time"] = ctx.ingest_time
    row["load_id"] = ctx.load_id
    return row


def paired_device_row(device: object, ctx: RowContext, loaded_at: dt.datetime) -> dict:
    """One paired device (users.pairedDevices.list) -> its paired_devices snapshot row."""
    path = "pairedDevice"
    d = _object(device, path)
    row = _head(ctx, loaded_at)
    device_id = _last_segment(_text(d, "name", path), path)
    row.update(
        device_id=device_id,
        device_type=_text(d, "deviceType", path),
        device_version=_text(d, "deviceVersion", path),
        battery_level=_int(d, "batteryLevel", path),
        battery_status=_text(d, "batteryStatus", path),
        last_sync_time=_instant(d, "lastSyncTime", path),
        features=_strings(d, "features", path),
    )
    return _tail(row, ctx, "paired_devices", device_id, row["civil_date"])


def profile_row(profile: object, ctx: RowContext, loaded_at: dt.datetime) -> dict:
    """users.getProfile -> its user_profile row."""
    path = "profile"
    p = _object(profile, path)
    row = _head(ctx, loaded_at)
    row.update(
        age=_int(p, "age", path),
        membership_start_date=_date(p, "membershipStartDate", path),
        auto_walking_stride_length_mm=_int(p, "autoWalkingStrideLengthMm", path),
        auto_running_stride_length_mm=_int(p, "autoRunningStrideLengthMm", path),
        user_configured_walking_stride_length_mm=_int(
            p, "userConfiguredWalkingStrideLengthMm", path
        ),
        user_configured_running_stride_length_mm=_int(
            p, "userConfiguredRunningStrideLengthMm", path
        ),
    )
    return _tail(row, ctx, "user_profile")


# (column, Settings field) of the settings' text fields, copied as sent.
_SETTINGS_TEXT = (
    ("time_zone", "timeZone"),
    ("language_locale", "languageLocale"),
    ("distance_unit", "distanceUnit"),
    ("weight_unit", "weightUnit"),
    ("height_unit", "heightUnit"),
    ("temperature_unit", "temperatureUnit"),
    ("water_unit", "waterUnit"),
    ("glucose_unit", "glucoseUnit"),
    ("swim_unit", "swimUnit"),
    ("stride_length_walking_type", "strideLengthWalkingType"),
    ("stride_length_running_type", "strideLengthRunningType"),
    ("food_language_code", "foodLanguageCode"),
)


def settings_row(settings: object, ctx: RowContext, loaded_at: dt.datetime) -> dict:
    """users.getSettings -> its user_settings row."""
    path = "settings"
    s = _object(settings, path)
    row = _head(ctx, loaded_at)
    row["utc_offset_seconds"] = _offset_seconds(s, "utcOffset", path)
    for column, field in _SETTINGS_TEXT:
        row[column] = _text(s, field, path)
    row["auto_stride_enabled"] = _bool(s, "autoStrideEnabled", path)
    return _tail(row, ctx, "user_settings")


def irn_profile_row(irn: object, ctx: RowContext, loaded_at: dt.datetime) -> dict:
    """users.getIrnProfile -> its irn_profile row.

    Its two booleans are required by the API; proto3 JSON leaves a false one out, so an
    absent one is false.
    """
    path = "irnProfile"
    p = _object(irn, path)
    row = _head(ctx, loaded_at)
    row.update(
        onboarded=bool(_bool(p, "onboardingStatus", path)),
        enrolled=bool(_bool(p, "enrollmentStatus", path)),
        update_time=_instant(p, "updateTime", path),
    )
    return _tail(row, ctx, "irn_profile")


_ROW_OF: dict[str, Callable[[object, RowContext, dt.datetime], dict]] = {
    user_resources.PAIRED_DEVICES: paired_device_row,
    user_resources.PROFILE: profile_row,
    user_resources.SETTINGS: settings_row,
    user_resources.IRN_PROFILE: irn_profile_row,
}


def user_row(
    resource: str, item: object, ctx: RowContext, loaded_at: dt.datetime
) -> tuple[str, dict]:
    """The (table, row) of one item of a user-level answer: a paired device, or the object.

    Args:
        resource: the resource's name (`healthapi.user_resources.RESOURCES`).
        item: one paired device, or the profile, settings or IRN profile object.
        ctx: the user and run.
        loaded_at: the load's time (UTC), stamped on the row; its date is civil_date.

    Raises:
        RowError: a malformed item (its field named).
        ValueError: an unknown resource or a loaded_at that is not UTC.
    """
    if not isinstance(loaded_at, dt.datetime) or loaded_at.utcoffset() != dt.timedelta(0):
        raise ValueError(f"loaded_at {str(loaded_at)[:40]!r} must be a UTC datetime")
    table = user_resources.resource(resource).table
    return table, _ROW_OF[resource](item, ctx, loaded_at.astimezone(dt.UTC))


def user_rows(
    resource: str, items: Sequence[object], ctx: RowContext, loaded_at: dt.datetime
) -> list[tuple[str, dict]]:
    """`user_row` of every item of one answer: a row per paired device, or one row.

    Raises:
        RowError, ValueError: as `user_row`, for the first item that fails.
    """
    return [user_row(resource, item, ctx, loaded_at) for item in items]
