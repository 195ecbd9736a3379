"""The study report: one self-contained HTML file a study coordinator reads at a glance.

`render(data)` turns a `ReportData` (study/model.py, gathered from BigQuery by
study/data.py) into one HTML page that opens offline, from a file, with no server:
plotly.js is inlined once, each chart is a plotly figure drawn by it, and the
summary and participant table are plain HTML. The page names no external URL (no
CDN, font or MathJax) and holds no token or secret: `ReportData` carries none.

User keys are text the study chose, so every value is escaped, in the HTML and in
the charts' labels (plotly reads a subset of HTML tags in its labels).

    from study import report
    Path("fitbeam-report.html").write_text(report.render(data), encoding="utf-8")

`fitbeam report` (commands/report.py) gathers the data and writes the file;
docs/report.md says how to read each chart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import statistics

import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from study.model import ParticipantDay, ParticipantStatus, ReportData

# The charts' element ids (stable: the browser test and the docs name them).
CHART_WEAR = "chart-wear"
CHART_COMPLETENESS = "chart-completeness"
CHART_DEVICES = "chart-devices"
CHART_STEPS = "chart-steps"
CHART_SLEEP = "chart-sleep"
CHART_IDS = (CHART_WEAR, CHART_COMPLETENESS, CHART_DEVICES, CHART_STEPS, CHART_SLEEP)

EMPTY_STUDY = "No participants loaded in this range."

# The API's batteryStatus values (PairedDevice), best first, and their bar colours.
BATTERY_BANDS = (
    ("High", "#2e7d32"),
    ("Medium", "#f9a825"),
    ("Low", "#ef6c00"),
    ("Empty", "#c62828"),
    ("unknown", "#9e9e9e"),
)
# What the simulator and the API report by level when only a level is known.
_BATTERY_LEVELS = ((60, "High"), (25, "Medium"), (10, "Low"), (0, "Empty"))

_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
_ROW_PX = 22  # height of one participant or data type in a chart
_MAX_ROWS_PX = 4400  # beyond 200 rows, rows get thinner (a study of thousands stays scrollable)


def _height(margin: int, rows: int) -> int:
    """A chart's height in pixels for `rows` participants or data types."""
    return margin + min(_ROW_PX * rows, max(_MAX_ROWS_PX, 4 * rows))


@dataclasses.dataclass(frozen=True)
class Summary:
    """The study at a glance, as the top of the report states it."""

    enrolled: int  # participants known to the status (or with days in the range)
    active: int  # with data on at least one of the last 7 complete days
    needing_attention: int  # with at least one attention reason
    participant_days: int  # rows of participant_days in the range
    valid_days: int  # of those, days meeting the valid-day rule


def summarise(data: ReportData) -> Summary:
    """Counts for the top of the report."""
    return Summary(
        enrolled=len(participant_keys(data)),
        active=sum(1 for p in data.participants if p.days_with_data_7 > 0),
        needing_attention=sum(1 for p in data.participants if p.attention),
        participant_days=len(data.days),
        valid_days=sum(1 for d in data.days if d.worn_minutes >= data.valid_day_minutes),
    )


def participant_keys(data: ReportData) -> list[str]:
    """Participants in the status's order (who needs attention first), then any other
    user key that has days in the range, sorted."""
    keys = [p.user_key for p in data.participants]
    seen = set(keys)
    keys += sorted({d.user_key for d in data.days} - seen)
    return keys


def utc(value: dt.datetime | None) -> str:
    """A time in UTC with a 'Z', to the second; a naive time is taken as UTC."""
    if value is None:
        return "never"
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


def _hours(minutes: int) -> str:
    return f"{minutes / 60:.1f} h"


def _dates(data: ReportData) -> list[dt.date]:
    days = (data.end_date - data.start_date).days + 1
    return [data.start_date + dt.timedelta(days=i) for i in range(max(days, 0))]


def _layout(fig: go.Figure, **layout) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        margin=dict(l=10, r=10, t=10, b=10),
        font=dict(family="system-ui, -apple-system, 'Segoe UI', sans-serif", size=12),
        **layout,
    )
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(automargin=True)
    return fig


def _day_hover(key: str, day: dt.date, d: ParticipantDay | None, valid_minutes: int) -> str:
    lines = [f"<b>{html.escape(key)}</b>", day.isoformat()]
    if d is None:
        return "<br>".join([*lines, "no data loaded"])
    if d.day_minutes != 1440:
        lines.append(f"{d.day_minutes / 60:g}-hour day (DST): {d.day_minutes} minutes")
    lines.append(f"worn: {_hours(d.worn_minutes)} ({d.worn_minutes} min)")
    lines.append(f"with heart rate: {_hours(d.worn_minutes_heart_rate)}")
    if d.worn_minutes_disagree:
        lines.append(f"signals disagree: {d.worn_minutes_disagree} min")
    valid = "yes" if d.worn_minutes >= valid_minutes else "no"
    lines.append(f"valid day: {valid}")
    if d.time_zone:
        lines.append(html.escape(d.time_zone))
    return "<br>".join(lines)


def wear_figure(data: ReportData) -> go.Figure | None:
    """Participant x day heatmap of hours worn; None when no day is in the range."""
    if not data.days:
        return None
    keys = participant_keys(data)
    dates = _dates(data)
    by_cell = {(d.user_key, d.civil_date): d for d in data.days}
    z, text = [], []
    for key in keys:
        row_z, row_text = [], []
        for day in dates:
            d = by_cell.get((key, day))
            row_z.append(None if d is None else round(d.worn_minutes / 60, 2))
            row_text.append(_day_hover(key, day, d, data.valid_day_minutes))
        z.append(row_z)
        text.append(row_text)
    valid_hours = data.valid_day_minutes / 60
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[day.isoformat() for day in dates],
            y=[html.escape(k) for k in keys],
            text=text,
            hovertemplate="%{text}<extra></extra>",
            zmin=0,
            zmax=25,
            colorscale="Blues",
            xgap=1,
            ygap=1 if len(keys) <= _MAX_ROWS_PX // _ROW_PX else 0,
            colorbar=dict(
                title=dict(text=f"hours worn<br>(valid ≥ {valid_hours:g} h)"),
                lenmode="pixels",
                len=min(260, _ROW_PX * len(keys) + 60),
                yanchor="top",
                y=1,
            ),
        )
    )
    return _layout(
        fig,
        height=_height(140, len(keys)),
        xaxis=dict(type="category", title="civil day (participant's time zone)"),
        yaxis=dict(type="category", autorange="reversed"),
    )


def completeness_figure(data: ReportData) -> go.Figure | None:
    """Bar per data type: participant-days with data / expected; None when none expected."""
    rows = sorted(
        (c for c in data.completeness if c.days_expected > 0),
        key=lambda c: (c.days_with_data / c.days_expected, c.table),
    )
    if not rows:
        return None
    fig = go.Figure(
        go.Bar(
            x=[round(100 * c.days_with_data / c.days_expected, 1) for c in rows],
            y=[html.escape(c.table) for c in rows],
            orientation="h",
            text=[f"{c.days_with_data} / {c.days_expected}" for c in rows],
            textposition="auto",
            marker_color="#1565c0",
            hovertemplate="%{y}: %{x}% (%{text} participant-days)<extra></extra>",
        )
    )
    return _layout(
        fig,
        height=_height(100, len(rows)),
        xaxis=dict(title="% of expected participant-days with data", range=[0, 105]),
        yaxis=dict(type="category", autorange="reversed"),
    )


def battery_band(p: ParticipantStatus) -> str:
    """The participant's battery as the API names it; from the level if only that is known."""
    names = {name for name, _ in BATTERY_BANDS}
    if p.battery_status and p.battery_status.capitalize() in names:
        return p.battery_status.capitalize()
    if p.battery_level is not None:
        return next(name for floor, name in _BATTERY_LEVELS if p.battery_level >= floor)
    return "unknown"


def days_since(then: dt.datetime, now: dt.datetime) -> float:
    """Days from `then` to `now`, to a tenth (0 if `then` is later); naive times are UTC."""
    return round(max(_seconds(then, now), 0) / 86400, 1)


def devices_figure(data: ReportData) -> go.Figure | None:
    """Days since each participant's last device sync, a dot coloured by battery on a stem
    from 0 (a sync minutes ago stays visible); None when no participant has synced."""
    synced = [p for p in data.participants if p.last_sync is not None]
    if not synced:
        return None
    order = [html.escape(p.user_key) for p in synced]
    longest = max(days_since(p.last_sync, data.generated_at) for p in synced)
    fig = go.Figure()
    for band, colour in BATTERY_BANDS:
        members = [p for p in synced if battery_band(p) == band]
        if not members:
            continue
        ages = [days_since(p.last_sync, data.generated_at) for p in members]
        fig.add_trace(
            go.Scatter(
                name=f"battery {band}",
                x=ages,
                y=[html.escape(p.user_key) for p in members],
                mode="markers+text",
                marker=dict(color=colour, size=14, line=dict(color="white", width=1)),
                # The stem: an error bar from 0 to the dot.
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=[0] * len(ages),
                    arrayminus=ages,
                    width=0,
                    thickness=6,
                    color=colour,
                ),
                text=[age_text(p.last_sync, data.generated_at) for p in members],
                textposition="middle right",
                customdata=[_device_hover(p) for p in members],
                hovertemplate="%{customdata}<extra></extra>",
            )
        )
    return _layout(
        fig,
        height=_height(140, len(synced)),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
        xaxis=dict(title="days since last sync", range=[0, max(1.0, longest * 1.2)]),
        yaxis=dict(
            type="category", categoryorder="array", categoryarray=order, autorange="reversed"
        ),
    )


def age_text(then: dt.datetime, now: dt.datetime) -> str:
    """How long ago, for a label: minutes, then hours (under two days), then days."""
    seconds = max(_seconds(then, now), 0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{days_since(then, now):g} days ago"


def _seconds(then: dt.datetime, now: dt.datetime) -> float:
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return (now - then).total_seconds()


def _device_hover(p: ParticipantStatus) -> str:
    level = "?" if p.battery_level is None else f"{p.battery_level}%"
    return "<br>".join(
        [
            f"<b>{html.escape(p.user_key)}</b>",
            html.escape(p.device or "device unknown"),
            f"battery {level} ({html.escape(p.battery_status or 'no status')})",
            f"last sync {utc(p.last_sync)}",
        ]
    )


def _histogram(
    values: list, colour: str, hover: str, median_text: str, xaxis: str, yaxis: str, **bins
) -> go.Figure:
    """A histogram with its median as a dashed line (`median_text` formats the median)."""
    fig = go.Figure(go.Histogram(x=values, marker_color=colour, hovertemplate=hover, **bins))
    median = statistics.median(values)
    fig.add_vline(x=median, line_dash="dash", annotation_text=median_text.format(median))
    return _layout(fig, height=320, bargap=0.05, xaxis=dict(title=xaxis), yaxis=dict(title=yaxis))


def steps_figure(data: ReportData) -> go.Figure | None:
    """Histogram of daily steps over all participant-days with steps; None without any."""
    steps = [d.step_count for d in data.days if d.step_count is not None]
    if not steps:
        return None
    return _histogram(
        steps,
        "#6a1b9a",
        "%{x} steps: %{y} participant-days<extra></extra>",
        "median {:,.0f}",
        "steps per day",
        "participant-days",
        nbinsx=30,
    )


def sleep_figure(data: ReportData) -> go.Figure | None:
    """Histogram of main-sleep hours over days with a main sleep; None without any."""
    hours = [
        round(d.main_sleep_minutes / 60, 2)
        for d in data.days
        if d.main_sleep_recorded and d.main_sleep_minutes is not None
    ]
    if not hours:
        return None
    return _histogram(
        hours,
        "#00695c",
        "%{x} h asleep: %{y} nights<extra></extra>",
        "median {:.1f} h",
        "hours asleep in the main sleep (by wake-up day)",
        "nights",
        xbins=dict(size=0.5),
    )


def _chart(fig: go.Figure | None, div_id: str, empty: str) -> str:
    if fig is None:
        return f'<p class="empty" id="{div_id}-empty">{html.escape(empty)}</p>'
    return pio.to_html(
        fig,
        config=_PLOTLY_CONFIG,
        include_plotlyjs=False,
        include_mathjax=False,
        full_html=False,
        div_id=div_id,
        default_height=f"{fig.layout.height}px",
    )


_SECTIONS = (
    (
        CHART_WEAR,
        wear_figure,
        "Hours worn, per participant and day",
        "Each row is a participant, each column a civil day in their own time zone; "
        "darker is longer worn, blank is no data loaded. Hover for the minutes, the "
        "heart-rate minutes and a DST day's length (23 or 25 hours).",
        "No participant-days in this range.",
    ),
    (
        CHART_COMPLETENESS,
        completeness_figure,
        "Completeness per data type",
        "Participant-days with data of a type, out of the days the participants' devices "
        "should produce it; the lowest first.",
        "No data type was expected in this range: no participant's paired devices say "
        "what they produce.",
    ),
    (
        CHART_DEVICES,
        devices_figure,
        "Last sync and battery",
        "Days since each participant's device last synced (as of the report's time), "
        "the dot coloured by its battery then; hover for the device and the sync time.",
        "No participant's device has synced.",
    ),
    (
        CHART_STEPS,
        steps_figure,
        "Daily steps",
        "How many participant-days fall in each band of steps; the dashed line is the median.",
        "No steps in this range.",
    ),
    (
        CHART_SLEEP,
        sleep_figure,
        "Main sleep",
        "Hours asleep in each night's main sleep, counted on the wake-up day.",
        "No main sleep in this range.",
    ),
)

_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 auto;
       max-width: 1320px; padding: 16px 24px; color: #212121; }
h1 { margin-bottom: 4px; }
.meta { color: #555; margin-top: 0; }
.cards { display: flex; gap: 16px; flex-wrap: wrap; margin: 16px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 10px 18px; min-width: 150px; }
.card .n { font-size: 2em; font-weight: 600; }
.card.alert .n { color: #c62828; }
td.time, td.key { white-space: nowrap; }
.empty { background: #fff8e1; border: 1px solid #ffe082; border-radius: 6px; padding: 12px; }
section { margin: 28px 0; }
.how { color: #555; margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #e0e0e0; padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f5f5f5; }
tr.attention td:first-child { border-left: 4px solid #c62828; }
td.num { text-align: right; }
"""


def _summary_html(data: ReportData, summary: Summary) -> str:
    e = html.escape
    span = (data.end_date - data.start_date).days + 1
    valid_hours = data.valid_day_minutes / 60
    cards = [
        ("enrolled", "Enrolled", summary.enrolled, "participants"),
        ("active", "Active", summary.active, "data in the last 7 days"),
        ("attention", "Needing attention", summary.needing_attention, "see the table"),
        ("valid", "Valid days", summary.valid_days, f"of {summary.participant_days} with data"),
    ]
    card_html = "".join(
        f'<div class="card{" alert" if cls == "attention" and n else ""}" id="summary-{cls}">'
        f"<div>{e(title)}</div>"
        f'<div class="n">{n}</div><div class="meta">{e(note)}</div></div>'
        for cls, title, n, note in cards
    )
    return (
        f'<p class="meta">Dataset <code>{e(data.dataset)}</code> · '
        f"{e(data.start_date.isoformat())} to {e(data.end_date.isoformat())} ({span} days) · "
        f"generated {e(utc(data.generated_at))}</p>"
        f'<div class="cards" id="summary">{card_html}</div>'
        f'<p id="valid-day-rule">A valid day: at least {valid_hours:g} hours worn '
        f"({data.valid_day_minutes} minutes). Active: data on at least one of the last "
        f"7 complete days. Times are UTC.</p>"
    )


_COLUMNS = (
    "participant",
    "needs attention",
    "consent",
    "last load",
    "last sync",
    "device",
    "battery",
    "days with data (7 / 30)",
    "valid days (7 / 30)",
    "open dead letters",
)


def _participant_row(p: ParticipantStatus) -> str:
    e = html.escape
    consent = e(p.consent) + (
        f"<br><small>{e(p.consent_detail)}</small>" if p.consent_detail else ""
    )
    level = "" if p.battery_level is None else f"{p.battery_level}% "
    battery = e(f"{level}{p.battery_status or ''}".strip() or "unknown")
    cells = [
        e(p.user_key),
        "<br>".join(e(reason) for reason in p.attention) or "—",
        consent,
        e(utc(p.last_load)),
        e(utc(p.last_sync)),
        e(p.device or "unknown"),
        battery,
        f"{p.days_with_data_7} / {p.days_with_data_30}",
        f"{p.valid_days_7} / {p.valid_days_30}",
        str(p.open_dead_letters),
    ]
    classes = {0: "key", 3: "time", 4: "time", 7: "num", 8: "num", 9: "num"}
    tds = "".join(
        f'<td class="{classes[i]}">{c}</td>' if i in classes else f"<td>{c}</td>"
        for i, c in enumerate(cells)
    )
    cls = ' class="attention"' if p.attention else ""
    return f"<tr{cls}>{tds}</tr>"


def _table_html(data: ReportData) -> str:
    if not data.participants:
        return '<p class="empty" id="participants-empty">No participant status to show.</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in _COLUMNS)
    rows = "".join(_participant_row(p) for p in data.participants)
    return f'<table id="participants"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def render(data: ReportData) -> str:
    """The whole report as one HTML document (UTF-8), for a file that opens offline."""
    summary = summarise(data)
    e = html.escape
    title = f"fitbeam study report: {data.dataset}, {data.start_date} to {data.end_date}"
    body = [f"<h1>fitbeam study report</h1>{_summary_html(data, summary)}"]
    if not data.days and not data.participants:
        body.append(
            f'<p class="empty" id="empty-study"><strong>{e(EMPTY_STUDY)}</strong> '
            f"Nothing in <code>{e(data.dataset)}</code> from {e(data.start_date.isoformat())} "
            f"to {e(data.end_date.isoformat())}: load data with <code>fitbeam run</code> "
            "(or widen the range with --start_date/--end_date or --days) and run "
            "<code>fitbeam report</code> again.</p>"
        )
    else:
        for div_id, figure, heading, how, empty in _SECTIONS:
            fig = figure(data)
            extra = ""
            if div_id == CHART_DEVICES:
                extra = _never_synced_html(data)
            if div_id == CHART_COMPLETENESS:
                extra = _unexpected_html(data)
            body.append(
                f'<section id="section-{div_id}"><h2>{e(heading)}</h2>'
                f'<p class="how">{e(how)}</p>{_chart(fig, div_id, empty)}{extra}</section>'
            )
        body.append(
            '<section id="section-participants"><h2>Participants</h2>'
            '<p class="how">Who needs attention first, with the reasons; '
            "times in UTC.</p>"
            f"{_table_html(data)}</section>"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_STYLE}</style>"
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
        f"</head><body>{''.join(body)}</body></html>\n"
    )


def _never_synced_html(data: ReportData) -> str:
    keys = [p.user_key for p in data.participants if p.last_sync is None]
    if not keys or all(p.last_sync is None for p in data.participants):
        return ""
    names = ", ".join(html.escape(k) for k in keys)
    return f'<p class="how" id="never-synced">No device sync recorded: {names}.</p>'


def _unexpected_html(data: ReportData) -> str:
    rows = [c for c in data.completeness if c.days_expected == 0 and c.days_with_data > 0]
    if not rows:
        return ""
    names = ", ".join(f"{html.escape(c.table)} ({c.days_with_data})" for c in rows)
    kinds = "type" if len(rows) == 1 else "types"
    return (
        f'<details class="how" id="not-expected"><summary>{len(rows)} data {kinds} with data '
        "though no paired device is expected to produce them</summary>"
        f"<p>Participant-days with data: {names}.</p></details>"
    )
