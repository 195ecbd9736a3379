"""No secret leaks from a faulty run: every output searched for every secret the simulator issued.

The run meets API faults (5xx, 429, resets, garbled and HTML bodies, dropped
page ties), token endpoint faults (503, a 200 cut short), expired access
tokens for every user (each refreshes after a 401), a user whose grant was
revoked (invalid_grant, consent needed) and a user without a Health profile
(400), with two attempts per request so that many calls end as dead letters
with response bodies. Every log record of every logger at DEBUG, stdout and
stderr, the printed report, the report JSON, every file under the run's dead
letter and temp folders and every row of every table of the run's dataset are
then searched for each access token, refresh token and authorization code
the simulator ever issued, its client secret, and "Bearer " / "Authorization".

Run: `.venv/bin/python -m pytest -q tests/e2e/test_no_secrets.py` (about 30 s).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path

from apache_beam.io.filesystems import FileSystems

from healthapi.auth.file_store import LocalFileTokenStore
from localdev import emulators
from localdev.demo import authorise_users
from pipeline import main
from simulator import Simulator, SimulatorConfig
from tests.e2e.helpers import ONE_OF_EACH_KIND, SHARED_DATASET, bq_client

START = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC).timestamp()
FIRST, LAST = dt.date(2026, 10, 31), dt.date(2026, 11, 1)
USERS = ["user-1", "user-2", "user-3", "user-4"]
UNLINKED, REVOKED = "user-3", "user-4"
FAULTS = "mixed=0.1,page-drop=1,token.503=0.3,token.truncate=0.15"
# Every row of the dataset is searched: other runs' rows too, none of which holds a secret
# this run's simulator issued.
RUN_ID, DATASET = "e2e-no-secrets", SHARED_DATASET
BUCKET = f"gs://{emulators.DEFAULT_BUCKET}"
TEMP = f"{BUCKET}/no-secrets-temp"
# The root and every library that talks HTTP or runs the pipeline, all at DEBUG,
# whatever level the project gives them.
LOGGERS = (
    "",
    "urllib3",
    "requests",
    "oauthlib",
    "requests_oauthlib",
    "google",
    "apache_beam",
    "transforms",
    "pipeline",
    "simulator",
)
# Besides the issued secrets themselves: the header, and the simulator's token
# prefixes, which also catch a token cut short in a body excerpt.
MARKERS = ("Bearer ", "Authorization", "sim-at-", "sim-rt-", "sim-code-")


class _Lines(logging.Handler):
    """Keeps every record as the line a handler would write, traceback included."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def every_log_record():
    """Captures every record of every logger at DEBUG; yields the list of lines."""
    handler = _Lines()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    # Loggers that do not propagate would bypass the root's handler.
    islands = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    logging.getLogger().addHandler(handler)
    for logger in islands:
        logger.addHandler(handler)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        logging.getLogger().removeHandler(handler)
        for logger in islands:
            logger.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def files_under(folder: str) -> dict[str, str]:
    """Path -> text of every file under a gs:// folder."""
    out = {}
    for meta in FileSystems.match([f"{folder}/**"])[0].metadata_list:
        with FileSystems.open(meta.path) as f:
            out[meta.path] = f.read().decode("utf-8", "replace")
    return out


def every_row(dataset: str) -> dict[str, str]:
    """Table -> every row of it as JSON lines, all columns (views only show these rows)."""
    client = bq_client()
    out = {}
    for table in client.list_tables(f"{emulators.PROJECT}.{dataset}"):
        if table.table_type != "TABLE":
            continue
        rows = client.list_rows(table)
        out[table.table_id] = "\n".join(
            json.dumps(dict(row.items()), default=str, sort_keys=True) for row in rows
        )
    return out


def faulty_run(tmp_path: Path) -> tuple[dict[str, str], frozenset[str], object, dict]:
    """Runs the faulty batch; returns (output name -> text, issued secrets, report, sim stats)."""
    config = SimulatorConfig(
        users=len(USERS),
        clock_speed=0,
        start_time=START,
        unlinked_users=frozenset({UNLINKED}),
        hr_spacing_seconds=60,  # a minute apart: fewer rows to search, the same paths
    )
    printed: list[str] = []
    with Simulator(config) as sim:
        store = LocalFileTokenStore(tmp_path / "tokens")
        authorise_users(sim, USERS, store)
        sim.auth.revoke(store.load(REVOKED)["refresh_token"])
        sim.auth.expire_all_access_tokens()
        sim.set_faults(FAULTS)  # after consent: the token faults are for the run's refreshes
        bq_client().create_dataset(f"{emulators.PROJECT}.{DATASET}", exists_ok=True)
        argv = [
            f"--users={','.join(USERS)}",
            f"--start_date={FIRST}",
            f"--end_date={LAST}",
            f"--data_types={','.join(ONE_OF_EACH_KIND)}",
            f"--api_base_url={sim.base_url}",
            f"--token_store={store.root}",
            f"--dataset={emulators.PROJECT}:{DATASET}",
            f"--dead_letter_root={BUCKET}/dead-letters",
            f"--temp_location={TEMP}",
            f"--project={emulators.PROJECT}",
            f"--run_id={RUN_ID}",
            f"--report_json={tmp_path / 'report.json'}",
            "--max_attempts=2",
        ]
        with every_log_record() as lines:
            report = main.run(
                argv, today=dt.date(2026, 11, 28), sleep=lambda s: None, out=printed.append
            )
        secrets = sim.issued_secrets()
        stats = sim.stats()
    outputs = {
        "log records": "\n".join(lines),
        "printed report": "\n".join(printed),
        "report JSON": (tmp_path / "report.json").read_text(),
        **files_under(f"{BUCKET}/dead-letters/{RUN_ID}"),
        **files_under(TEMP),
        **{f"table {t}": rows for t, rows in every_row(DATASET).items()},
    }
    return outputs, secrets, report, stats


def test_a_faulty_run_leaks_no_token_header_or_secret(local_gcp, tmp_path, capfd):
    outputs, secrets, report, stats = faulty_run(tmp_path)
    captured = capfd.readouterr()
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err

    # The run went through the paths where secrets could slip out.
    letters = [
        json.loads(line)
        for name, text in outputs.items()
        if name.startswith(f"{BUCKET}/dead-letters/")
        for line in text.splitlines()
        if line
    ]
    reasons = {letter["error_class"] for letter in letters}
    assert report.state == "DONE"
    assert len(letters) == report.dead_letters_total > 0
    assert {"NEEDS_CONSENT", "ACCOUNT_NOT_LINKED"} <= reasons, reasons
    assert reasons - {"NEEDS_CONSENT", "ACCOUNT_NOT_LINKED"}, "no injected fault outlived a retry"
    assert sum(1 for letter in letters if letter["body"]) >= 5, reasons
    assert report.api_retries > 0
    assert report.api_calls.get("401", 0) >= 3, report.api_calls
    assert report.token_refreshes >= 3
    assert report.needs_consent == [REVOKED]
    assert (
        f"users who must consent again (1; their calls are dead letters, replayable once "
        f"they have): {REVOKED} (fitbeam authorize --user KEY)" in outputs["printed report"]
    )
    assert set(stats["refreshesByUser"]) == {"user-1", "user-2", UNLINKED}, stats
    assert stats["invalidGrants"] >= 1, stats
    assert {"token.503", "token.truncate"} <= set(stats["faultsInjected"]), stats
    assert report.rows_total > 0
    assert any(name.startswith("table ") and text for name, text in outputs.items())
    # Nothing was searched in vain: every library's DEBUG lines are in.
    log = outputs["log records"]
    assert "DEBUG urllib3.connectionpool" in log
    assert "DEBUG apache_beam" in log
    # Secrets in play: a code, a refresh token and a first access token per user,
    # an access token per refresh answered (cut short or not), the client secret.
    assert len(secrets) >= 3 * len(USERS) + 1 + sum(stats["refreshesByUser"].values())

    needles = sorted(secrets) + list(MARKERS)
    leaks = sorted(
        (name, needle) for name, text in outputs.items() for needle in needles if needle in text
    )
    assert leaks == []
