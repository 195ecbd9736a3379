"""The study report in a real browser: Debian's headless Chromium, driven by Playwright.

The page is opened from a file (file://, no server, as a coordinator opens it),
and must load without a console error, a page error or any request but its own
file; each chart must be drawn by plotly with the study's data (the drawn DOM,
and the pixels of a screenshot of each chart in its trace's colour); a hostile
user key must stay text; an empty study must be a clear page.

Playwright downloads no browser here: it drives /usr/bin/chromium (`apt-get
install chromium`; `.ci/run` installs it on CI), or the one FITBEAM_CHROMIUM
names. With FITBEAM_SCREENSHOT=PATH the populated report's full-page screenshot
is written to PATH (docs/images/report.png is made this way).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # Pillow and NumPy come with Apache Beam

from study import report
from tests.browser import sample

CHROMIUM = os.environ.get("FITBEAM_CHROMIUM") or "/usr/bin/chromium"
# Flags for a machine with no network and no display, as root: no sandbox, and none of
# Chromium's own background connections (they would be refused, many at a time).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the report's browser tests need Debian's Chromium "
            "(apt-get update && apt-get install -y --no-install-recommends chromium; "
            "or FITBEAM_CHROMIUM=/path/to/chromium)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Opened:
    """A report opened in a new page, with everything the browser complained about."""

    def __init__(self, browser, path: Path):
        self.url = path.as_uri()
        self.problems: list[str] = []
        self.page = browser.new_page(viewport=VIEWPORT)
        page = self.page
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("dialog", self._dialog)
        page.on("request", self._request)
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url}"))
        page.goto(self.url, wait_until="load")

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _dialog(self, dialog) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _request(self, request) -> None:
        if request.url != self.url:
            self.problems.append(f"request: {request.url[:120]}")

    def wait_for_charts(self, ids) -> None:
        for div_id in ids:
            self.page.wait_for_selector(f"#{div_id} .main-svg", state="attached", timeout=15_000)

    def js(self, expression: str, arg=None):
        return self.page.evaluate(expression, arg)


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(report.render(data), encoding="utf-8")
    return path


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _pixels_like(png: bytes, colour: str, tolerance: int = 40) -> float:
    """Share of a screenshot's pixels within `tolerance` of `colour` (#rrggbb) per channel."""
    want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return float((np.abs(_rgb(png) - want) <= tolerance).all(axis=2).mean())


def _blue_share(png: bytes) -> float:
    """Share of pixels that are clearly blue (the heatmap's Blues scale)."""
    rgb = _rgb(png)
    return float(((rgb[..., 2] - rgb[..., 0] > 40) & (rgb[..., 2] > 120)).mean())


def _y_ticks(opened: Opened) -> list[str]:
    """The heatmap's participant labels as drawn, top to bottom."""
    ticks = opened.js(
        "[...document.querySelectorAll('#chart-wear .yaxislayer-above .ytick text')]"
        ".map(t => [t.getBoundingClientRect().top, t.textContent])"
    )
    return [text for _, text in sorted(ticks)]


@pytest.fixture(scope="module")
def populated(browser, tmp_path_factory):
    data = sample.report_data()
    opened = Opened(browser, _write(tmp_path_factory.mktemp("report"), "report.html", data))
    opened.wait_for_charts(report.CHART_IDS)
    yield opened, data
    opened.page.close()


def test_the_report_loads_without_errors_or_requests(populated):
    opened, _ = populated
    assert opened.problems == []
    assert opened.js("typeof Plotly") == "object"
    assert opened.js("document.querySelectorAll('script[src], link, img').length") == 0


def test_the_heatmap_draws_a_cell_per_participant_day(populated):
    opened, data = populated
    z = opened.js("document.getElementById('chart-wear').data[0].z")
    assert [len(row) for row in z] == [14] * len(data.participants)
    assert sum(v is not None for row in z for v in row) == len(data.days) == 50
    # Plotly draws a heatmap as one image inside the plot's SVG.
    href = opened.js(
        "(() => { const i = document.querySelector('#chart-wear .hm image');"
        " return i ? i.getAttribute('href') : ''; })()"
    )
    assert href.startswith("data:image/png;base64,") and len(href) > 1000
    assert _y_ticks(opened) == [p.user_key for p in data.participants]
    shot = opened.page.locator("#chart-wear").screenshot()
    assert _blue_share(shot) > 0.15


def test_hovering_a_dst_day_shows_its_length(populated):
    opened, data = populated
    keys = [p.user_key for p in data.participants]
    row, column = keys.index("participant-002"), 3  # 2026-10-25, 25 hours in London
    box = opened.page.locator("#chart-wear .nsewdrag").bounding_box()
    opened.page.mouse.move(
        box["x"] + (column + 0.5) / 14 * box["width"],
        box["y"] + (row + 0.5) / len(keys) * box["height"],
    )
    opened.page.wait_for_selector("#chart-wear .hoverlayer .hovertext", timeout=5_000)
    text = opened.js("document.querySelector('#chart-wear .hoverlayer').textContent")
    assert "participant-002" in text and "2026-10-25" in text
    assert "25-hour day (DST): 1500 minutes" in text
    opened.page.mouse.move(0, 0)


@pytest.mark.parametrize(
    ("div_id", "bars", "colour"),
    [
        (report.CHART_COMPLETENESS, 4, "#1565c0"),  # four expected data types
    ],
)
def test_each_bar_chart_draws_a_bar_per_row(populated, div_id, bars, colour):
    opened, _ = populated
    assert opened.js(f"document.querySelectorAll('#{div_id} .trace.bars .point path').length") == (
        bars
    )
    assert _pixels_like(opened.page.locator(f"#{div_id}").screenshot(), colour) > 0.01


def test_the_device_chart_draws_a_dot_and_stem_per_participant(populated):
    opened, data = populated
    chart = f"#{report.CHART_DEVICES}"
    assert opened.js(f"document.querySelectorAll('{chart} .scatterlayer .point').length") == 4
    assert opened.js(f"document.querySelectorAll('{chart} .errorbar').length") == 4
    labels = opened.js(
        f"[...document.querySelectorAll('{chart} .textpoint')].map(t => t.textContent)"
    )
    assert sorted(labels) == ["13 h ago", "23 h ago", "4.2 days ago", "8 h ago"]
    shot = opened.page.locator(chart).screenshot()
    assert _pixels_like(shot, "#c62828") > 0.008  # participant-003: 4.2 days, Empty
    assert _pixels_like(shot, "#2e7d32") > 0.003  # participant-001 and -004: High
    assert _pixels_like(shot, "#f9a825") > 0.001  # participant-002: Medium
    assert len(data.participants) == 4


@pytest.mark.parametrize(
    ("div_id", "colour", "count"),
    [
        (report.CHART_STEPS, "#6a1b9a", lambda days: sum(d.step_count is not None for d in days)),
        (
            report.CHART_SLEEP,
            "#00695c",
            lambda days: sum(d.main_sleep_minutes is not None for d in days),
        ),
    ],
)
def test_each_histogram_counts_every_participant_day(populated, div_id, colour, count):
    opened, data = populated
    assert opened.js(f"document.getElementById('{div_id}').data[0].x.length") == count(data.days)
    drawn = opened.js(
        f"document.getElementById('{div_id}').calcdata[0].reduce((n, bin) => n + bin.s, 0)"
    )
    assert drawn == count(data.days)
    assert opened.js(f"document.querySelectorAll('#{div_id} .trace.bars .point path').length") > 5
    assert _pixels_like(opened.page.locator(f"#{div_id}").screenshot(), colour) > 0.05


def test_the_summary_and_table_read_as_text(populated):
    opened, data = populated
    cards = opened.js("[...document.querySelectorAll('#summary .n')].map(n => n.textContent)")
    assert cards == ["4", "4", "1", "42"]
    rows = opened.js(
        "[...document.querySelectorAll('#participants tbody tr')]"
        ".map(r => [r.className, r.cells[0].textContent, r.cells[1].innerText])"
    )
    assert rows[0] == [
        "attention",
        "participant-003",
        "no device sync for 4 days\nbattery low (8%)",
    ]
    assert [r[1] for r in rows] == [p.user_key for p in data.participants]


def test_the_full_page_screenshot_is_not_blank(populated):
    opened, _ = populated
    png = opened.page.screenshot(full_page=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width == VIEWPORT["width"] and image.height > 2000
    assert len(image.getcolors(maxcolors=1 << 20)) > 200
    assert _pixels_like(png, "#ffffff", tolerance=8) < 0.9
    target = os.environ.get("FITBEAM_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        image.quantize(colors=256).save(target, optimize=True)


def test_a_hostile_user_key_stays_text(browser, tmp_path):
    data = sample.with_user_key(sample.report_data(), "participant-003", HOSTILE)
    opened = Opened(browser, _write(tmp_path, "hostile.html", data))
    try:
        opened.wait_for_charts(report.CHART_IDS)
        opened.page.wait_for_timeout(200)
        assert opened.problems == []  # no alert, no request for "x"
        assert opened.js("document.querySelectorAll('img').length") == 0
        first = opened.js("document.querySelector('#participants tbody td').textContent")
        assert first == HOSTILE
        assert _y_ticks(opened)[0] == HOSTILE
    finally:
        opened.page.close()


def test_an_empty_study_is_a_clear_page(browser, tmp_path):
    opened = Opened(browser, _write(tmp_path, "empty.html", sample.empty_report_data()))
    try:
        opened.page.wait_for_timeout(200)
        assert opened.problems == []
        message = opened.page.locator("#empty-study")
        assert message.is_visible()
        assert message.inner_text().startswith("No participants loaded in this range.")
        assert opened.js("document.querySelectorAll('.plotly-graph-div, .main-svg').length") == 0
        cards = opened.js("[...document.querySelectorAll('#summary .n')].map(n => n.textContent)")
        assert cards == ["0", "0", "0", "0"]
    finally:
        opened.page.close()
