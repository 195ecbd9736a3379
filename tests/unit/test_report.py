"""pipeline.report: figures from counters, and how the report reads."""

from __future__ import annotations

from pipeline import report

FIELDS = dict(
    run_id="run-1",
    state="DONE",
    wall_seconds=12.5,
    users=3,
    start_date="2026-11-01",
    end_date="2026-11-02",
    data_types=["steps"],
    dead_letter_path="/tmp/dl/run-1",
)


def test_users_who_must_consent_again_come_from_their_counters():
    values = {
        "rows_valid_steps": 10,
        "dead_letters_fetch": 3,
        "needs_consent_user-3": 2,
        "needs_consent_participant-017": 1,
        "api_calls_200": 5,
    }
    built = report.from_counters(values, **FIELDS)
    assert built.needs_consent == ["participant-017", "user-3"]
    assert built.to_json()["needs_consent"] == ["participant-017", "user-3"]
    assert built.render().splitlines()[-3:] == [
        "  retries: 0   token refreshes: 0",
        "  users who must consent again (2; their calls are dead letters, replayable once "
        "they have): participant-017, user-3 (fitbeam authorize --user KEY)",
        "  dead letters written under /tmp/dl/run-1",
    ]


def test_users_who_withdrew_consent_come_from_their_counters():
    values = {"dead_letters_fetch": 4, "consent_withdrawn_user-9": 4, "needs_consent_user-3": 1}
    built = report.from_counters(values, **FIELDS)
    assert built.consent_withdrawn == ["user-9"]
    assert built.needs_consent == ["user-3"]
    assert built.to_json()["consent_withdrawn"] == ["user-9"]
    assert built.render().splitlines()[-2] == (
        "  users refused because they withdrew consent (1; not replayable; take them out of "
        "the run's users): user-9"
    )


def test_no_consent_line_when_every_grant_works():
    built = report.from_counters({"rows_valid_steps": 10}, **FIELDS)
    assert built.needs_consent == []
    assert built.consent_withdrawn == []
    assert "consent" not in built.render()


def test_api_answers_by_data_type():
    values = {
        "api_status_steps_200": 4,
        "api_status_steps_429": 1,
        "api_status_heart-rate_no_answer": 2,
        "api_status_exercise_200": 0,
    }
    built = report.from_counters(values, **FIELDS)
    assert built.api_calls_by_type == {
        "steps": {"200": 4, "429": 1},
        "heart-rate": {"no_answer": 2},
    }


def test_calls_done_are_those_answered_and_those_of_fetch_dead_letters():
    values = {
        "calls_planned": 12,
        "calls_answered": 9,
        "dead_letters_fetch": 2,
        "dead_letters_fetch_detail": 1,
        "dead_letters_schema": 4,
    }
    built = report.from_counters(values, **FIELDS)
    assert (built.calls_done, built.calls_planned) == (12, 12)
    assert "  API calls: 12 done (answered or dead-lettered) of 12 planned" in built.render()


def test_a_replay_plans_the_calls_it_replays():
    values = {"replayed_calls": 3, "calls_planned": 1, "calls_answered": 4}
    built = report.from_counters(values, **FIELDS)
    assert (built.calls_done, built.calls_planned) == (4, 4)


def test_fields_no_column_holds_are_listed_per_data_type():
    values = {
        "rows_valid_sleep": 3,
        "unmapped_fields/sleep/sleep.sleepScore": 3,
        "unmapped_fields/sleep/sleep.stages[].depth": 2,
        "unmapped_fields/heart-rate/dataSource.region": 1_250_000,
        "unmapped_fields/steps/steps.note": 0,
    }
    built = report.from_counters(values, **FIELDS)
    assert built.unmapped_fields == {
        "sleep": {"sleep.sleepScore": 3, "sleep.stages[].depth": 2},
        "heart-rate": {"dataSource.region": 1_250_000},
    }
    assert built.to_json()["unmapped_fields"] == built.unmapped_fields
    assert built.render().splitlines()[-3:] == [
        "  fields the API sent that no column holds (a change in the API?), points per field:",
        "    heart-rate: dataSource.region 1,250,000",
        "    sleep: sleep.sleepScore 3, sleep.stages[].depth 2",
    ]


def test_no_unmapped_line_when_every_field_is_known():
    built = report.from_counters({"rows_valid_steps": 10}, **FIELDS)
    assert built.unmapped_fields == {}
    assert "no column holds" not in built.render()
