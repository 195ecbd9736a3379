"""study.report: the HTML page itself (self-contained, escaped, every chart, the empty study).

How it draws in a real browser is tests/browser/test_report_browser.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re

import plotly.offline
import pytest

from study import report
from study.model import ParticipantStatus, ReportData
from tests.browser import sample

PLOTLY_JS = plotly.offline.get_plotlyjs()
HOSTILE = "<script>alert('p&1')</script>"


@pytest.fixture(scope="module")
def page() -> str:
    return report.render(sample.report_data())


def _outside_plotly_js(page: str) -> str:
    assert page.count(PLOTLY_JS) == 1
    return page.replace(PLOTLY_JS, "")


def _figures(page: str) -> dict[str, tuple[list, dict]]:
    """Each chart's data and layout, as the page hands them to Plotly.newPlot."""
    decoder = json.JSONDecoder()
    found = {}
    for match in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', page):
        data, end = decoder.raw_decode(page, match.end())
        layout, _ = decoder.raw_decode(page, re.compile(r",\s*").match(page, end).end())
        found[match.group(1)] = (data, layout)
    return found


def test_plotly_js_is_inlined_exactly_once(page):
    assert page.count(PLOTLY_JS) == 1
    assert page.count("plotly.js v") == PLOTLY_JS.count("plotly.js v")


def test_the_page_names_no_url_and_loads_nothing(page):
    rest = _outside_plotly_js(page)
    assert re.findall(r"https?://|//cdn|mathjax", rest, flags=re.IGNORECASE) == []
    assert re.findall(r"<link|<img|<iframe|\bsrc=|\bhref=|@import|url\(", rest) == []
    assert rest.count("<script") == 1 + len(report.CHART_IDS)  # plotly.js, then one per chart


def test_every_chart_is_a_plotly_div_once(page):
    for div_id in report.CHART_IDS:
        assert page.count(f'<div id="{div_id}" class="plotly-graph-div"') == 1, div_id
    assert sorted(_figures(page)) == sorted(report.CHART_IDS)


def test_the_charts_hold_the_study(page):
    data = sample.report_data()
    figures = _figures(page)
    (wear,), _ = figures[report.CHART_WEAR]
    keys = [p.user_key for p in data.participants]
    assert wear["y"] == keys
    assert wear["x"][0] == "2026-10-22" and wear["x"][-1] == "2026-11-04" and len(wear["x"]) == 14
    cells = [v for row in wear["z"] for v in row if v is not None]
    assert len(cells) == len(data.days) == 50
    first = next(d for d in data.days if d.user_key == keys[0])
    assert wear["z"][0][0] == round(first.worn_minutes / 60, 2)
    bars, _ = figures[report.CHART_COMPLETENESS]
    assert bars[0]["y"] == ["sleep", "distance", "heart_rate", "steps"]  # lowest first
    assert bars[0]["text"][-1] == "50 / 56"
    devices, _ = figures[report.CHART_DEVICES]
    assert sorted(k for trace in devices for k in trace["y"]) == sorted(keys)
    assert [t["name"] for t in devices] == ["battery High", "battery Medium", "battery Empty"]
    (empty_battery,) = (t for t in devices if t["name"] == "battery Empty")
    assert (empty_battery["y"], empty_battery["x"]) == (["participant-003"], [4.2])
    assert empty_battery["text"] == ["4.2 days ago"]
    assert empty_battery["error_x"]["arrayminus"] == [4.2]  # the stem from 0
    (steps,), _ = figures[report.CHART_STEPS]
    assert len(steps["x"]) == sum(d.step_count is not None for d in data.days)
    (sleep,), _ = figures[report.CHART_SLEEP]
    assert len(sleep["x"]) == sum(d.main_sleep_minutes is not None for d in data.days)


def test_dst_days_show_their_length_in_the_hover(page):
    (wear,), _ = _figures(page)[report.CHART_WEAR]
    row = wear["y"].index("participant-002")  # Europe/London: 2026-10-25 has 25 hours
    column = wear["x"].index("2026-10-25")
    day = next(
        d
        for d in sample.report_data().days
        if (d.user_key, d.civil_date) == ("participant-002", dt.date(2026, 10, 25))
    )
    assert wear["text"][row][column] == "<br>".join(
        [
            "<b>participant-002</b>",
            "2026-10-25",
            "25-hour day (DST): 1500 minutes",
            f"worn: {day.worn_minutes / 60:.1f} h ({day.worn_minutes} min)",
            f"with heart rate: {day.worn_minutes_heart_rate / 60:.1f} h",
            f"signals disagree: {day.worn_minutes_disagree} min",
            f"valid day: {'yes' if day.worn_minutes >= 600 else 'no'}",
            "Europe/London",
        ]
    )
    assert wear["text"][0][3] == "<b>participant-003</b><br>2026-10-25<br>no data loaded"
    assert "DST" not in wear["text"][row][column + 1]
    assert sum("(DST)" in text for row in wear["text"] for text in row) == 2


def test_the_summary_counts_and_states_the_rule(page):
    assert report.summarise(sample.report_data()) == report.Summary(
        enrolled=4, active=4, needing_attention=1, participant_days=50, valid_days=42
    )
    assert re.search(r'id="summary-attention"><div>Needing attention</div><div class="n">1<', page)
    assert 'id="summary-enrolled"><div>Enrolled</div><div class="n">4<' in page
    assert "A valid day: at least 10 hours worn (600 minutes)." in page
    assert "2026-10-22 to 2026-11-04 (14 days)" in page
    assert "generated 2026-11-05T07:30:00Z" in page
    assert "<code>my-project:fitbit</code>" in page


def test_times_are_utc_with_a_z():
    assert report.utc(dt.datetime(2026, 11, 5, 9, 30, 15, 999, tzinfo=dt.UTC)) == (
        "2026-11-05T09:30:15Z"
    )
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert report.utc(dt.datetime(2026, 11, 5, 9, 30, tzinfo=plus_one)) == "2026-11-05T08:30:00Z"
    assert report.utc(dt.datetime(2026, 11, 5, 9, 30)) == "2026-11-05T09:30:00Z"
    assert report.utc(None) == "never"


def test_the_participant_table_is_escaped_everywhere():
    data = sample.with_user_key(sample.report_data(), "participant-003", HOSTILE)
    status = next(p for p in data.participants if p.user_key == HOSTILE)
    status = dataclasses.replace(
        status, device='Watch "X" <b>', attention=("<i>no sync</i> & more",)
    )
    data = dataclasses.replace(data, participants=(status, *data.participants[1:]))
    page = report.render(data)
    rest = _outside_plotly_js(page)
    assert HOSTILE not in rest and "<script>alert" not in rest
    escaped = html.escape(HOSTILE)
    reason = "&lt;i&gt;no sync&lt;/i&gt; &amp; more"
    assert f'<tr class="attention"><td class="key">{escaped}</td><td>{reason}</td>' in rest
    assert "<td>Watch &quot;X&quot; &lt;b&gt;</td>" in rest
    # In the charts too: plotly reads tags in labels, and shows entities as text.
    (wear,), _ = _figures(page)[report.CHART_WEAR]
    assert wear["y"][0] == escaped
    assert f"<b>{escaped}</b>" in wear["text"][0][0]


def test_a_hostile_dataset_name_is_escaped():
    data = dataclasses.replace(sample.empty_report_data(), dataset="p:</code><script>x()")
    rest = _outside_plotly_js(report.render(data))
    assert "<script>x()" not in rest
    assert "<code>p:&lt;/code&gt;&lt;script&gt;x()</code>" in rest


def test_an_empty_study_is_a_clear_page_without_charts():
    page = report.render(sample.empty_report_data())
    assert '<p class="empty" id="empty-study"><strong>No participants loaded in this range.' in page
    assert "Nothing in <code>my-project:fitbit</code> from 2026-10-22 to 2026-11-04" in page
    assert "Plotly.newPlot" not in page and "plotly-graph-div" not in page
    assert 'id="summary-enrolled"><div>Enrolled</div><div class="n">0<' in page
    assert 'class="card alert"' not in page


def test_participants_without_days_get_a_message_per_chart_not_an_empty_chart():
    data = dataclasses.replace(sample.report_data(), days=(), completeness=())
    page = report.render(data)
    figures = _figures(page)
    assert sorted(figures) == [report.CHART_DEVICES]
    for div_id in (
        report.CHART_WEAR,
        report.CHART_COMPLETENESS,
        report.CHART_STEPS,
        report.CHART_SLEEP,
    ):
        assert f'<p class="empty" id="{div_id}-empty">' in page
    assert '<table id="participants">' in page
    assert "No participants loaded" not in page


def test_participants_who_never_synced_are_named_under_the_chart():
    data = sample.report_data()
    never = dataclasses.replace(data.participants[-1], last_sync=None)
    data = dataclasses.replace(data, participants=(*data.participants[:-1], never))
    page = report.render(data)
    assert f"No device sync recorded: {never.user_key}." in page
    devices, _ = _figures(page)[report.CHART_DEVICES]
    assert never.user_key not in [k for trace in devices for k in trace["y"]]


@pytest.mark.parametrize(
    ("level", "status", "band"),
    [
        (80, "High", "High"),
        (30, "MEDIUM", "Medium"),
        (None, "Low", "Low"),
        (9, None, "Empty"),
        (25, None, "Medium"),
        (None, None, "unknown"),
        (None, "odd", "unknown"),
    ],
)
def test_battery_bands(level, status, band):
    p = sample.report_data().participants[0]
    p = dataclasses.replace(p, battery_level=level, battery_status=status)
    assert report.battery_band(p) == band


def test_report_data_holds_no_field_for_a_token():
    names = {f.name for cls in (ReportData, ParticipantStatus) for f in dataclasses.fields(cls)}
    assert not {n for n in names if re.search("token|secret|credential|password", n)}


def test_data_no_device_is_expected_to_produce_is_named_not_drawn(page):
    assert (
        '<details class="how" id="not-expected"><summary>1 data type with data though no '
        "paired device is expected to produce them</summary>"
        "<p>Participant-days with data: weight (3).</p></details>"
    ) in page
    bars, _ = _figures(page)[report.CHART_COMPLETENESS]
    assert "weight" not in bars[0]["y"]


def test_no_type_expected_is_a_message_with_what_has_data():
    data = sample.report_data()
    data = dataclasses.replace(
        data, completeness=tuple(dataclasses.replace(c, days_expected=0) for c in data.completeness)
    )
    page = report.render(data)
    assert report.CHART_COMPLETENESS not in _figures(page)
    assert '<p class="empty" id="chart-completeness-empty">No data type was expected' in page
    assert "<summary>5 data types with data though" in page
    assert "with data: distance (50), heart_rate (50), sleep (39), steps (50), weight (3).<" in page


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (dt.timedelta(seconds=30), "0 min ago"),
        (dt.timedelta(minutes=59, seconds=59), "59 min ago"),
        (dt.timedelta(hours=1), "1 h ago"),
        (dt.timedelta(hours=47, minutes=59), "47 h ago"),
        (dt.timedelta(days=2), "2 days ago"),
        (dt.timedelta(days=4, hours=6), "4.2 days ago"),
        (dt.timedelta(minutes=-5), "0 min ago"),  # a clock a little ahead
    ],
)
def test_sync_ages_read_in_minutes_hours_then_days(ago, text):
    now = dt.datetime(2026, 11, 5, 7, 30, tzinfo=dt.UTC)
    assert report.age_text(now - ago, now) == text
