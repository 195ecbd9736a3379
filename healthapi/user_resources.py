"""The user-level resources fitbeam loads, Beam-free: one entry per resource.

Besides data points, the Google Health API serves a few resources of the user
as a whole: the paired devices (battery level and status, last sync time), the
profile, the settings (time zone, units) and the irregular rhythm notification
(IRN) profile. Each is read once per user per load, by an `ApiCall` of kind
`user` whose `data_type` names the resource (`user_calls`), and becomes rows of
a table of its own (`rows.user_level`).

Scopes (the discovery document's): the paired devices and the settings need
`settings.readonly`, the profile `profile.readonly` (its stride lengths also
`activity_and_fitness.readonly`; without it they are left out of the answer),
the IRN profile `irn.readonly`.
"""

from __future__ import annotations

import dataclasses

from healthapi.datatypes import IRN_SCOPE, PROFILE_SCOPE, SETTINGS_SCOPE
from healthapi.elements import ApiCall

PAIRED_DEVICES = "paired-devices"
PROFILE = "profile"
SETTINGS = "settings"
IRN_PROFILE = "irn-profile"


@dataclasses.dataclass(frozen=True)
class UserResource:
    """How fitbeam reads one user-level resource.

    Attributes:
        name: fitbeam's name of the resource, an `ApiCall.data_type` of kind `user`.
        method: the API method (as the discovery document names it).
        scope: the read scope the method needs.
        table: the BigQuery table of its rows.
        client_method: the `HealthApiClient` method that reads it.
    """

    name: str
    method: str
    scope: str
    table: str
    client_method: str


RESOURCES: dict[str, UserResource] = {
    r.name: r
    for r in (
        UserResource(
            PAIRED_DEVICES,
            "users.pairedDevices.list",
            SETTINGS_SCOPE,
            "paired_devices",
            "paired_devices_page",
        ),
        UserResource(PROFILE, "users.getProfile", PROFILE_SCOPE, "user_profile", "profile"),
        UserResource(SETTINGS, "users.getSettings", SETTINGS_SCOPE, "user_settings", "settings"),
        UserResource(IRN_PROFILE, "users.getIrnProfile", IRN_SCOPE, "irn_profile", "irn_profile"),
    )
}
TABLES = tuple(r.table for r in RESOURCES.values())
SCOPES = tuple(sorted({r.scope for r in RESOURCES.values()}))


def resource(name: str) -> UserResource:
    """The resource by its name.

    Raises:
        ValueError: naming the unknown resource and the known ones.
    """
    try:
        return RESOURCES[name]
    except KeyError:
        raise ValueError(
            f"unknown user-level resource {name[:60]!r}; known: {', '.join(RESOURCES)}"
        ) from None


def user_calls(user_key: str, stream: str = "reconciled") -> list[ApiCall]:
    """The calls that load every user-level resource of one user, one per resource."""
    return [ApiCall(user_key, "user", name, stream=stream) for name in RESOURCES]
