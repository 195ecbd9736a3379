"""Each synthetic user's paired Fitbit devices and IRN profile, as the API serves them.

A pure function of (seed, user, simulator time), like the data. Every user has
the wearable their data comes from (`User.watch`: a Charge 6 or a Pixel Watch 3,
both `TRACKER` to this API), an Aria Air scale when their weigh-ins come from one
(`User.scale`; a Health Connect scale is no paired Fitbit device), and some keep
an old Inspire 3 paired that last synced months ago.

The wearable syncs every 15 to 60 minutes and drains over its charge cycle (a
day for a watch, six for a tracker); the battery level is the one reported at
the last sync, and its status follows the level (`battery_status`). Study
coordinators read these to see who needs a nudge, so a few users need one:
counted from a seeded offset, one user in eight has a wearable that has not
synced for 2 to 9 days, one a low battery (10-24%) and one an empty one (under
10%, its last sync hours to days ago).
"""

from __future__ import annotations

import dataclasses
import hashlib

from simulator import synth, timefmt
from simulator.synth import User

HOUR = 3600
DAY = 86400

# deviceVersion -> features, names from the PairedDevice.features list of the document.
FEATURES = {
    "Charge 6": (
        "ACTIVE_ZONE_MINUTES",
        "ALARMS",
        "CALORIES",
        "CONNECTED_GPS",
        "DISTANCE",
        "GPS",
        "HEART_RATE",
        "INACTIVITY_ALERTS",
        "PAYMENTS",
        "SEDENTARY_TIME",
        "SLEEP",
        "SMART_SLEEP",
        "SPO2",
        "STEPS",
        "SWIM",
        "YOUTUBE_MUSIC_SUPPORTED",
    ),
    "Pixel Watch 3": (
        "ACTIVE_ZONE_MINUTES",
        "ADVANCED_RUNNING",
        "ALARMS",
        "AUTORUN",
        "CALORIES",
        "DISTANCE",
        "EDA",
        "ELEVATION",
        "GPS",
        "HEART_RATE",
        "MUSIC",
        "PAYMENTS",
        "SEDENTARY_TIME",
        "SKIN_TEMPERATURE",
        "SLEEP",
        "SMART_SLEEP",
        "SPO2",
        "STEPS",
        "SWIM",
    ),
    "Inspire 3": (
        "ACTIVE_ZONE_MINUTES",
        "ALARMS",
        "CALORIES",
        "DISTANCE",
        "HEART_RATE",
        "SEDENTARY_TIME",
        "SLEEP",
        "SMART_SLEEP",
        "SPO2",
        "STEPS",
        "SWIM",
    ),
    "Aria Air": (),
}
# Hours a full charge lasts, by deviceVersion.
_CHARGE_HOURS = {"Pixel Watch 3": 24, "Charge 6": 144, "Inspire 3": 240, "Aria Air": 24 * 365}

STALE, LOW, EMPTY = "stale", "low", "empty"
_NUDGE_CYCLE = 8  # one user in this many of each kind needing a nudge


def _digest(*parts: object) -> int:
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def battery_status(level: int) -> str:
    """The API's batteryStatus for a battery level (percent)."""
    if level >= 60:
        return "High"
    if level >= 25:
        return "Medium"
    if level >= 10:
        return "Low"
    return "Empty"


def nudge(seed: int, user: User) -> str | None:
    """Why the user's wearable needs a look (STALE, LOW, EMPTY), or None."""
    index = int(user.user_id.rsplit("-", 1)[1])
    slot = (index + _digest(seed, "nudge")) % _NUDGE_CYCLE
    return {0: STALE, 1: LOW, 2: EMPTY}.get(slot)


@dataclasses.dataclass(frozen=True)
class PairedDevice:
    device_id: str
    device_type: str  # TRACKER or SCALE
    version: str
    battery_level: int
    last_sync: int  # epoch seconds
    mac: str

    def json(self, user: User) -> dict:
        """The PairedDevice message."""
        out = {
            "name": f"users/{user.health_user_id}/pairedDevices/{self.device_id}",
            "deviceType": self.device_type,
            "deviceVersion": self.version,
            "batteryStatus": battery_status(self.battery_level),
            "lastSyncTime": timefmt.rfc3339(self.last_sync),
            "macAddress": self.mac,
        }
        if self.battery_level:
            out["batteryLevel"] = self.battery_level
        if FEATURES[self.version]:
            out["features"] = list(FEATURES[self.version])
        return out


def _device_id(seed: int, user: User, role: str) -> str:
    return str(1_000_000_000 + _digest(seed, user.user_id, role, "device-id") % 9_000_000_000)


def _mac(seed: int, user: User, role: str) -> str:
    raw = _digest(seed, user.user_id, role, "mac").to_bytes(8, "big")[:6]
    # A locally administered unicast address, as BLE random addresses are.
    first = (raw[0] | 0x02) & 0xFE
    return ":".join(f"{b:02X}" for b in (first, *raw[1:]))


def _level(seed: int, user: User, role: str, version: str, at: int) -> int:
    """The battery level at `at` over a saw-tooth charge cycle of the device (30-100%)."""
    period = _CHARGE_HOURS[version] * HOUR
    phase = _digest(seed, user.user_id, role, "charge") % period
    used = ((at + phase) % period) / period
    return round(100 - 70 * used)


def _synced(seed: int, user: User, role: str, now: int, every: int) -> int:
    """The last of the device's regular syncs at or before `now` (every `every` seconds)."""
    phase = _digest(seed, user.user_id, role, "sync") % every
    return now - (now + phase) % every


def paired_devices(seed: int, user: User, now: float) -> list[PairedDevice]:
    """The user's paired devices at simulator time `now`, the wearable first."""
    now = int(now)
    version = synth.SOURCES[user.watch]["device"]["displayName"]
    every = (15 + _digest(seed, user.user_id, "sync-minutes") % 46) * 60  # 15 to 60 minutes
    last_sync = _synced(seed, user, "wearable", now, every)
    level = _level(seed, user, "wearable", version, last_sync)
    spread = _digest(seed, user.user_id, "nudge-spread")
    why = nudge(seed, user)
    # A device that stopped syncing keeps one last sync while the clock runs: the last
    # of a sparse grid, 2 to 9 days old (a dead battery: 3 hours to 3 days).
    if why == STALE:
        last_sync = _synced(seed, user, "stale", now - 2 * DAY, 7 * DAY)
        level = _level(seed, user, "wearable", version, last_sync)
    elif why == LOW:
        level = 10 + spread % 15
    elif why == EMPTY:
        level = spread % 10
        last_sync = _synced(seed, user, "empty", now - 3 * HOUR, 3 * DAY)
    devices = [
        PairedDevice(
            _device_id(seed, user, "wearable"),
            "TRACKER",
            version,
            level,
            last_sync,
            _mac(seed, user, "wearable"),
        )
    ]
    if user.scale == "scale":
        scale = synth.SOURCES["scale"]["device"]["displayName"]
        weighed = _synced(seed, user, "scale", now, DAY)
        devices.append(
            PairedDevice(
                _device_id(seed, user, "scale"),
                "SCALE",
                scale,
                _level(seed, user, "scale", scale, weighed),
                weighed,
                _mac(seed, user, "scale"),
            )
        )
    if _digest(seed, user.user_id, "old-tracker") % 3 == 0:
        months = 60 + _digest(seed, user.user_id, "old-tracker-age") % 300
        devices.append(
            PairedDevice(
                _device_id(seed, user, "old-tracker"),
                "TRACKER",
                "Inspire 3",
                0,
                now - months * DAY - _digest(seed, user.user_id, "old-sync") % DAY,
                _mac(seed, user, "old-tracker"),
            )
        )
    return devices


def irn_profile(seed: int, user: User, now: float) -> dict:
    """The IrnProfile message.

    Users who take ECGs (`User.ecg`) have onboarded onto irregular rhythm
    notifications and are enrolled; `updateTime` is their wearable's last sync
    (the last analyzable data). Some others onboarded and later turned the
    notifications off. Booleans left false are unset in proto3 JSON.
    """
    out: dict = {"name": f"users/{user.health_user_id}/irnProfile"}
    if user.ecg:
        out["enrollmentStatus"] = True
        out["onboardingStatus"] = True
        out["updateTime"] = timefmt.rfc3339(paired_devices(seed, user, now)[0].last_sync)
    elif _digest(seed, user.user_id, "irn-onboarded") % 3 == 0:
        out["onboardingStatus"] = True
    return out
