"""healthapi.auth.oauth keeps secrets out of logs even with requests-oauthlib turned up to DEBUG."""

from __future__ import annotations

import logging

from healthapi import datatypes
from healthapi.auth import oauth
from tests.client.conftest import visit

SCOPES = datatypes.scopes_for(list(datatypes.SPECS))


def test_consent_and_refresh_at_debug_log_no_secret(sim, client, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("requests_oauthlib", "oauthlib", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)

    token = oauth.authorize(client, SCOPES, login_hint="user-1", open_url=visit)
    new = oauth.refresh(client, token)

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "POST /token" in logged  # urllib3 was heard: the search below is not vacuous
    for secret in (
        client.client_secret,
        token["access_token"],
        token["refresh_token"],
        new["access_token"],
    ):
        assert secret not in logged
    assert "Authorization" not in logged
    # Not the authorization code: `visit`, the stand-in browser, logs its own request
    # line (urllib3, DEBUG), which carries it; a real browser is not this process.


def test_debug_records_of_requests_oauthlib_are_dropped_at_the_source():
    logger = logging.getLogger("requests_oauthlib.oauth2_session")
    record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "token %s", ("x",), None)
    warning = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "hm", (), None)

    assert logger.filter(record) is False
    assert logger.filter(warning) is True
