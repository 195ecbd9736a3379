"""`fitbeam status` on the BigQuery emulator: participants in every consent state, a flat
battery, a stale sync, open and closed dead letters, exactly, who needs attention first.

Now is 2026-12-06 12:00 UTC; nobody has settings, so days are UTC days and the
last 7 complete days are 11-29..12-05. Participants who wear their tracker 12 hours
(720 minutes of steps) a day on all of them are fine unless something else is wrong:

- `active`: fine.
- `no-token`: no token in the store; one day of data.
- `lost-grant`: a NEEDS_CONSENT dead letter after their last load (still open).
- `gone`: withdrew consent.
- `flat`: battery Empty at 5%.
- `stale`: the tracker last synced 5 days ago (a scale synced today).
- `letters`: three dead letters: one whose window was loaded again later (closed),
  one without a window before a later load (closed), one still open.

The dataset is shared with tests/e2e/test_study_views.py, whose users are left out here.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from commands import status as status_command
from healthapi.auth.file_store import LocalFileTokenStore
from study import status as study_status
from study.model import CONSENT_ACTIVE, CONSENT_NEEDED, CONSENT_WITHDRAWN, ParticipantStatus
from tests.e2e import study_rows
from tests.e2e.study_rows import Loads, insert, interval, iso, row

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=UTC)
WEARERS = ("active", "flat", "stale", "letters")
USERS = (*WEARERS, "no-token", "lost-grant", "gone")
TOKEN = {"access_token": "a", "refresh_token": "r", "token_type": "Bearer", "expires_at": 1}


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, tzinfo=UTC)


def civil(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day)


def device(user, version, battery, status, synced, device_type="TRACKER") -> dict:
    return row(
        "paired_devices", user_key=user, civil_date="2026-12-06", loaded_at=iso(at(6, 6)),
        device_id=f"{user}-{version}", device_type=device_type, device_version=version,
        battery_level=battery, battery_status=status, last_sync_time=iso(synced),
        features=["STEPS", "HEART_RATE"],
    )  # fmt: skip


def letter(user, when, error_class="HTTP_500", original=None) -> str:
    return json.dumps(
        {
            "stage": "fetch",
            "original": original or {},
            "error_class": error_class,
            "message": "failed",
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "http_status": 500,
            "body": "",
            "attempts": 1,
            "user_key": user,
            "table": "",
            "replayable": True,
        }
    )


def call(user, data_type, start, end) -> dict:
    return {"user_key": user, "kind": "list", "data_type": data_type, "start": start,
            "end": end, "stream": "reconciled"}  # fmt: skip


@pytest.fixture(scope="module")
def study(local_gcp, tmp_path_factory):
    client, dataset = study_rows.shared_dataset()
    loads = Loads()
    steps = []
    for user in WEARERS:
        loaded = iso(at(3)) if user == "letters" else iso(at(6, 6))
        load_id = loads.add(user, "steps", civil(11, 29), civil(12, 6), loaded_at=loaded)
        for k in range(7):
            start = dt.datetime(2026, 11, 29, 11, tzinfo=UTC) + dt.timedelta(days=k)
            end = start + dt.timedelta(hours=12)
            steps.append(interval("steps", user, start, end, step_count=5000, load_id=load_id))
    load_id = loads.add("no-token", "steps", civil(12, 5), civil(12, 6), loaded_at=iso(at(6, 6)))
    steps.append(
        interval("steps", "no-token", at(5, 11), at(5, 23), step_count=4000, load_id=load_id)
    )
    loads.add("lost-grant", "steps", civil(12, 1), civil(12, 2), loaded_at=iso(at(2, 6)))
    loads.add("gone", "steps", civil(11, 30), civil(12, 1), loaded_at=iso(at(1, 6)))
    loads.add("letters", "heart_rate", civil(12, 2), civil(12, 3), loaded_at=iso(at(4)))
    insert(client, dataset, "load_windows", loads.rows)
    insert(client, dataset, "steps", steps)
    insert(client, dataset, "paired_devices", [
        device("active", "Charge 6", 80, "High", at(6, 11)),
        device("no-token", "Charge 6", 75, "High", at(6, 10)),
        device("flat", "Pixel Watch 3", 5, "Empty", at(6, 8)),
        device("stale", "Charge 6", 70, "Medium", at(1, 10)),
        device("stale", "Aria Air", 90, "High", at(6, 7), device_type="SCALE"),
        device("letters", "Charge 6", 60, "High", at(6, 9)),
    ])  # fmt: skip

    tokens = tmp_path_factory.mktemp("tokens")
    store = LocalFileTokenStore(str(tokens))
    for user in (*WEARERS, "lost-grant", "gone"):
        store.save(user, TOKEN)
    store.mark_withdrawn("gone", "2026-12-05T09:00:00Z")

    letters_root = tmp_path_factory.mktemp("dead-letters")
    (letters_root / "run-1").mkdir()
    (letters_root / "run-1" / "dead-letters-00000-of-00001.jsonl").write_text(
        "\n".join([
            letter("lost-grant", at(4, 10), "NEEDS_CONSENT",
                   call("lost-grant", "steps", "2026-12-04T00:00:00", "2026-12-05T00:00:00")),
            # Loaded again on 12-04: closed.
            letter("letters", at(3, 1), original=call(
                "letters", "heart-rate", "2026-12-02T00:00:00", "2026-12-03T00:00:00")),
            # No window; loads came after it: closed.
            letter("letters", at(2), original={"user_key": "letters", "data_type": "steps"}),
        ]) + "\n"
    )  # fmt: skip
    (letters_root / "run-2").mkdir()
    (letters_root / "run-2" / "dead-letters-00000-of-00001.jsonl").write_text(
        letter("letters", at(5, 1), original=call(
            "letters", "steps", "2026-12-04T00:00:00", "2026-12-05T00:00:00")) + "\n"
    )  # fmt: skip
    return client, dataset, str(tokens), str(letters_root)


def expected_statuses() -> list[ParticipantStatus]:
    def status(user, **values):
        fields = dict(
            consent=CONSENT_ACTIVE, consent_detail="", last_load=at(6, 6), last_sync=None,
            device="Charge 6", battery_level=None, battery_status=None, days_with_data_7=7,
            days_with_data_30=7, valid_days_7=7, valid_days_30=7, open_dead_letters=0,
            attention=(),
        )  # fmt: skip
        fields.update(values)
        return ParticipantStatus(user_key=user, **fields)

    none = dict(days_with_data_7=0, days_with_data_30=0, valid_days_7=0, valid_days_30=0)
    return [
        status("gone", consent=CONSENT_WITHDRAWN, consent_detail="withdrawn 2026-12-05",
               last_load=at(1, 6), device=None, attention=("withdrawn",), **none),
        status("lost-grant", consent=CONSENT_NEEDED, consent_detail="NEEDS_CONSENT on 2026-12-04",
               last_load=at(2, 6), device=None, open_dead_letters=1, attention=(
                   "consent needed", "no data for 3 days", "valid days 0/1",
                   "1 open dead letter"), **none),
        status("no-token", consent=CONSENT_NEEDED, consent_detail="no token in the store",
               last_sync=at(6, 10), battery_level=75, battery_status="High",
               days_with_data_7=1, days_with_data_30=1, valid_days_7=1, valid_days_30=1,
               attention=("consent needed",)),
        status("stale", last_sync=at(1, 10), battery_level=70, battery_status="Medium",
               attention=("no sync for 5 days",)),
        status("flat", last_sync=at(6, 8), device="Pixel Watch 3", battery_level=5,
               battery_status="Empty", attention=("battery Empty 5%",)),
        status("letters", last_load=at(4), last_sync=at(6, 9), battery_level=60,
               battery_status="High", open_dead_letters=1, attention=("1 open dead letter",)),
        status("active", last_sync=at(6, 11), battery_level=80, battery_status="High"),
    ]  # fmt: skip


def test_participant_statuses_are_exact_and_sorted_by_attention(study):
    client, dataset, tokens, letters = study
    statuses = study_status.participant_statuses(
        client,
        dataset,
        token_store=LocalFileTokenStore(tokens),
        dead_letter_root=letters,
        now=NOW,
    )
    assert [s for s in statuses if s.user_key in USERS] == expected_statuses()


def test_the_command_prints_json_for_scripts(study, capsys):
    _, dataset, tokens, letters = study
    argv = ["--dataset", dataset, "--token_store", tokens, "--dead_letter_root", letters]
    assert status_command.main([*argv, "--json", "--valid_day_hours", "12"], now=NOW) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["generated_at"] == "2026-12-06T12:00:00Z"
    assert document["valid_day_minutes"] == 720
    ours = [p for p in document["participants"] if p["user_key"] in USERS]
    assert ours == [s.to_json() for s in expected_statuses()]


def test_the_command_prints_the_table_who_needs_attention_first(study, capsys):
    _, dataset, tokens, letters = study
    argv = ["--dataset", dataset, "--token_store", tokens, "--dead_letter_root", letters]
    assert status_command.main(argv, now=NOW) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "user", "consent", "last", "load", "last", "sync", "battery", "data", "7d/30d",
        "valid", "7d/30d", "dead", "letters", "attention",
    ]  # fmt: skip
    ours = [line for line in lines[2:] if line.split()[:1] and line.split()[0] in USERS]
    assert [line.split()[0] for line in ours] == [s.user_key for s in expected_statuses()]
    assert ours[3].split() == [
        "stale", "active", "2026-12-06", "06:00", "2026-12-01", "10:00", "70%", "Medium",
        "7/7", "7/7", "0", "no", "sync", "for", "5", "days",
    ]  # fmt: skip
    others = len(lines) - 4 - len(ours)  # header, rule, blank line, summary
    assert lines[-1].startswith(
        f"{7 + others} participants, {6 + others} needing attention; a valid day is 10 hours"
    )


def test_a_missing_dataset_is_one_clear_error(local_gcp, capsys):
    assert status_command.main(["--dataset", "fitbeam-local:no_such_dataset"], now=NOW) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("fitbeam status: NotFound: ")
    assert "fitbeam run" in err
