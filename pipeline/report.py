"""The run report: what a run loaded, what it could not, and what it cost.

Built from the run's Beam counters (namespace `fitbeam`):

- `rows_valid_<table>` minus `bigquery_failed_<table>`: rows loaded per table;
- `dead_letters_<stage>`: items that could not be loaded, per stage;
- `api_calls_<status>`: HTTP answers by status (`no_answer` for network errors);
- `api_status_<data type>_<status>`: the same by data type;
- `calls_planned` (plus `replayed_calls` for a replay): API calls planned, TCX
  calls found in exercises included; `calls_answered` plus the fetch stages'
  dead letters: calls done;
- `api_retries`, `token_refreshes`;
- `needs_consent_<user>`: calls that failed because the user's grant is gone
  (`invalid_grant`, or no token): the report lists those users;
- `consent_withdrawn_<user>`: calls refused because the user withdrew consent
  (`fitbeam forget`): the report lists those users;
- `unmapped_fields/<data type>/<field path>`: fields of the API's points that no
  column holds (`transforms.rows`): the report lists them per data type, so an
  API change is seen;
- `archive_*`: objects written to the raw archive, and for a rebuild objects
  read, answers passed over and TCX exports without their exercise
  (`transforms.archive`);
- `import_files_read`, `import_files_skipped/<reason>`, `import_units`: an
  import's files (`transforms.imports`).
"""

from __future__ import annotations

import dataclasses
import json

from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter

from schemas.bigquery import LOAD_LOG_TABLE
from transforms.dead_letters import FETCH_STAGES
from transforms.fetch import API_STATUS_PREFIX, CONSENT_WITHDRAWN_PREFIX, NEEDS_CONSENT_PREFIX
from transforms.imports import SKIPPED_PREFIX
from transforms.rows import UNMAPPED_PREFIX

NAMESPACE = "fitbeam"


@dataclasses.dataclass
class RunReport:
    """The figures of one run; `to_json` is what `--report_json` writes."""

    run_id: str
    state: str
    wall_seconds: float
    users: int
    start_date: str
    end_date: str
    data_types: list[str]
    rows: dict[str, int]
    dead_letters: dict[str, int]
    api_calls: dict[str, int]
    api_retries: int
    token_refreshes: int
    dead_letter_path: str
    requests_from: str = ""
    calls_planned: int = 0
    calls_done: int = 0
    request_messages: int = 0
    loads: int = 0
    replayed: dict[str, int] = dataclasses.field(default_factory=dict)
    needs_consent: list[str] = dataclasses.field(default_factory=list)
    consent_withdrawn: list[str] = dataclasses.field(default_factory=list)
    api_calls_by_type: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    unmapped_fields: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    archive: dict[str, int] = dataclasses.field(default_factory=dict)
    files_read: int = 0
    files_skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    note: str = ""

    @property
    def rows_total(self) -> int:
        return sum(self.rows.values())

    @property
    def dead_letters_total(self) -> int:
        return sum(self.dead_letters.values())

    def to_json(self) -> dict:
        out = dataclasses.asdict(self)
        out["rows_total"] = self.rows_total
        out["dead_letters_total"] = self.dead_letters_total
        return out

    def _imported(self) -> bool:
        return bool(self.files_read or self.files_skipped or "import" in self.dead_letters)

    def _rebuilt(self) -> bool:
        return "objects_read" in self.archive or "archive_read" in self.dead_letters

    def _without_api(self) -> bool:
        """A rebuild or an import: it reads files, never the API."""
        return self._imported() or self._rebuilt()

    def _source(self) -> str:
        """What the run loaded from: a range, messages, dead letters, an archive or files."""
        if not self.requests_from:
            return (
                f"  {self.users} users, {self.start_date} .. {self.end_date}, "
                f"{len(self.data_types)} data types"
            )
        if self.replayed:
            return f"  dead letters replayed from {self.requests_from}"
        if self._imported():
            return f"  imported from {self.requests_from} (no API call)"
        if self._rebuilt():
            return f"  rebuilt from the raw archive {self.requests_from} (no API call)"
        return f"  {self.request_messages:,} request messages from {self.requests_from}"

    def render(self) -> str:
        lines = [
            f"run {self.run_id}: {self.state} in {self.wall_seconds:.1f} s",
            self._source(),
            f"  rows loaded: {self.rows_total:,} (from {self.loads:,} loads)",
        ]
        if self.note:  # no counts to show; the note says where to look
            source = f"  requests from {self.requests_from}"
            return "\n".join([lines[0], source, f"  note: {self.note}"])
        width = max((len(t) for t in self.rows), default=0)
        lines += [f"    {t:<{width}} {n:>10,}" for t, n in sorted(self.rows.items())]
        lines.append(f"  dead letters: {self.dead_letters_total:,}")
        lines += [f"    {s:<{width}} {n:>10,}" for s, n in sorted(self.dead_letters.items())]
        if self.replayed:
            lines.append(
                "  replay: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.replayed.items()))
            )
        if self.files_read or self.files_skipped:
            skipped = ", ".join(f"{r} {n:,}" for r, n in sorted(self.files_skipped.items()))
            lines.append(
                f"  files imported: {self.files_read:,}; skipped: "
                f"{sum(self.files_skipped.values()):,}" + (f" ({skipped})" if skipped else "")
            )
        if self.archive:
            lines.append(
                "  raw archive: " + ", ".join(f"{k} {n:,}" for k, n in sorted(self.archive.items()))
            )
        if self.calls_planned or self.calls_done:
            lines.append(
                f"  API calls: {self.calls_done:,} done (answered or dead-lettered) "
                f"of {self.calls_planned:,} planned"
            )
        calls = ", ".join(f"{s}: {n:,}" for s, n in sorted(self.api_calls.items()))
        if calls or not self._without_api():
            lines.append(f"  API answers by status: {calls or 'none'}")
            lines.append(
                f"  retries: {self.api_retries:,}   token refreshes: {self.token_refreshes:,}"
            )
        if self.needs_consent:
            lines.append(
                f"  users who must consent again ({len(self.needs_consent)}; their calls are "
                f"dead letters, replayable once they have): {', '.join(self.needs_consent)} "
                "(fitbeam authorize --user KEY)"
            )
        if self.consent_withdrawn:
            lines.append(
                f"  users refused because they withdrew consent ({len(self.consent_withdrawn)}; "
                f"not replayable; take them out of the run's users): "
                f"{', '.join(self.consent_withdrawn)}"
            )
        if self.unmapped_fields:
            lines.append(
                "  fields the API sent that no column holds (a change in the API?), "
                "points per field:"
            )
            for data_type, fields in sorted(self.unmapped_fields.items()):
                listed = ", ".join(f"{path} {n:,}" for path, n in sorted(fields.items()))
                lines.append(f"    {data_type}: {listed}")
        if self.dead_letters_total:
            lines.append(f"  dead letters written under {self.dead_letter_path}")
        return "\n".join(lines)


def counters(result) -> dict[str, int]:
    """The run's fitbeam counters, summed over steps."""
    query = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    out: dict[str, int] = {}
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        out[name] = out.get(name, 0) + int(value or 0)
    return out


def from_counters(values: dict[str, int], **fields) -> RunReport:
    """A report from summed counters plus the run's own fields."""

    def group(prefix: str) -> dict[str, int]:
        return {k[len(prefix) :]: v for k, v in values.items() if k.startswith(prefix) and v}

    valid, failed = group("rows_valid_"), group("bigquery_failed_")
    rows = {t: n - failed.get(t, 0) for t, n in valid.items() if n - failed.get(t, 0)}
    loads = rows.pop(LOAD_LOG_TABLE, 0)
    failed_calls = sum(values.get(f"dead_letters_{stage}", 0) for stage in FETCH_STAGES)
    return RunReport(
        rows=rows,
        dead_letters=group("dead_letters_"),
        api_calls=group("api_calls_"),
        calls_planned=values.get("calls_planned", 0) + values.get("replayed_calls", 0),
        calls_done=values.get("calls_answered", 0) + failed_calls,
        api_retries=values.get("api_retries", 0),
        token_refreshes=values.get("token_refreshes", 0),
        request_messages=values.get("request_messages", 0),
        loads=loads,
        replayed={k: v for k, v in values.items() if k.startswith("replay") and v},
        needs_consent=sorted(group(NEEDS_CONSENT_PREFIX)),
        consent_withdrawn=sorted(group(CONSENT_WITHDRAWN_PREFIX)),
        api_calls_by_type=_by_type(group(API_STATUS_PREFIX)),
        unmapped_fields=_unmapped(group(UNMAPPED_PREFIX)),
        archive=group("archive_"),
        files_read=values.get("import_files_read", 0),
        files_skipped=group(SKIPPED_PREFIX),
        **fields,
    )


def _unmapped(values: dict[str, int]) -> dict[str, dict[str, int]]:
    """`{"sleep/sleep.score": 3}` -> `{"sleep": {"sleep.score": 3}}` (types hold no `/`)."""
    out: dict[str, dict[str, int]] = {}
    for name, n in values.items():
        data_type, _, path = name.partition("/")
        out.setdefault(data_type, {})[path] = n
    return out


def _by_type(values: dict[str, int]) -> dict[str, dict[str, int]]:
    """`{"steps_200": 4, "sleep_no_answer": 1}` -> `{"steps": {"200": 4}, "sleep": {...}}`.

    Data types hold no `_`; the status is a number or `no_answer`.
    """
    out: dict[str, dict[str, int]] = {}
    for name, n in values.items():
        data_type, _, status = name.partition("_")
        out.setdefault(data_type, {})[status] = n
    return out


def write_json(report: RunReport, path: str) -> None:
    """Writes the report as JSON to a local path or gs://."""
    with FileSystems.create(path) as f:
        f.write((json.dumps(report.to_json(), indent=2, sort_keys=True) + "\n").encode("utf-8"))
