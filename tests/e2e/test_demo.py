"""`fitbeam demo` end to end, one user and one day: what it prints, where the simulator runs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from localdev import demo


@pytest.fixture
def restored_endpoints():
    """The demo points this process's Google clients at its own emulators; put them back."""
    from apache_beam.io.gcp.internal.clients.bigquery import bigquery_v2_client

    saved_env, saved_url = dict(os.environ), bigquery_v2_client.BigqueryV2.BASE_URL
    yield
    os.environ.clear()
    os.environ.update(saved_env)
    bigquery_v2_client.BigqueryV2.BASE_URL = saved_url


@pytest.mark.emulators
def test_demo_loads_a_day_with_the_simulator_in_a_child_process(tmp_path, restored_endpoints):
    lines: list[str] = []
    report = demo.run_demo(days=1, users=1, state_dir=tmp_path, out=lines.append)
    text = "\n".join(lines)

    assert report.state == "DONE", text
    match = re.search(
        r"Google Health API simulator on http://127\.0\.0\.1:\d+ \(process (\d+)\)", text
    )
    assert match, text
    pid = int(match.group(1))
    assert pid != os.getpid()
    assert not Path(f"/proc/{pid}").exists(), "the simulator process outlived the demo"

    assert "authorised through the OAuth consent flow: user-1 (America/New_York)" in text
    assert (tmp_path / "tokens").is_dir() and any((tmp_path / "tokens").iterdir())
    assert re.search(r"rows loaded: [\d,]+", text), text
    assert "heart_rate" in text
    assert "dead letters: 0" in text
    assert (tmp_path / "demo-report.json").is_file()
    # Every answer the run used is in the raw archive: as many objects as pages.
    archived = re.search(r"raw archive: bytes ([\d,]+), objects ([\d,]+)", text)
    assert archived and int(archived[2].replace(",", "")) >= report.calls_done > 0, text
    assert "fitbeam rebuild --from_archive='gs://" in text
    assert "example query (BigQuery emulator):" in text
    assert re.search(r"^user-1 +\d{4}-\d{2}-\d{2} +\d+", text, re.MULTILINE), text

    # It ends with the participants' status and the study report's path.
    status_at = lines.index("participants (fitbeam status; who needs attention first):")
    assert lines[status_at + 1].split() == [
        "user", "consent", "last", "load", "last", "sync", "battery",
        "data", "7d/30d", "valid", "7d/30d", "dead", "letters", "attention",
    ]  # fmt: skip
    assert re.match(r"user-1 +active +\d{4}-\d{2}-\d{2} \d{2}:\d{2} ", lines[status_at + 3]), text
    html = tmp_path / "fitbeam-report.html"
    assert lines[-1] == f"study report (fitbeam report; opens offline): {html}"
    page = html.read_text(encoding="utf-8")
    assert page.count('id="chart-wear"') == 1
    assert "user-1" in page
