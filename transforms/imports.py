"""Imports of history the live API cannot serve: a Google Takeout export, the legacy archive.

`ImportFiles` reads the files under a path (a folder, a `.zip`, a glob; local or
gs://), has each parsed by its layout's parser (`history.takeout_google`,
`history.takeout_fitbit`, `history.legacy`), and turns the `ImportUnit`s they
give into `(table, row)` pairs and one `load_windows` row per unit, with the
origin (`takeout` or `legacy`) and the file it came from. The rows then take
the same validation, BigQuery write and dead-letter sink as a run's
(`pipeline.build`). No API call is made.

A Takeout export may carry a data type in both of its layouts (the older Fitbit
JSON under `Takeout/Fitbit/Global Export Data` and the newer Google Health CSVs
under `Takeout/Google Health`): the type is read from the Google Health layout
only (UTC timestamps), and the Fitbit layout's files of it are counted as
`superseded`. Each import first lists every file of the export (a zip's member
list is its central directory: nothing is unpacked) to know which types those are.

Every file is counted once: read (it gave data: `import_files_read`), or
skipped by reason (`import_files_skipped/<reason>`: not health data, a type no
table holds, `no data`...); a file that cannot be read is a dead letter (stage
`import`, naming the file and what is wrong) and the import goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import zipfile
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io import fileio
from apache_beam.io.filesystems import CompressionTypes, FileSystems
from apache_beam.metrics import Metrics

from healthapi import datatypes
from history.units import ImportUnit, MalformedFile, ParseContext, Skipped
from rows import datapoints, load_windows
from transforms.dead_letters import DeadLetter, utc_now_rfc3339

NAMESPACE = "fitbeam"
SKIPPED_PREFIX = "import_files_skipped/"
TAKEOUT, LEGACY = "takeout", "legacy"
# A zip member's name as units and dead letters show it: <zip>!<member>.
MEMBER_SEPARATOR = "!"
_POINT_ERRORS = (ValueError, OverflowError, RecursionError)
# A path ending so is one file to import, not a folder.
_FILE_SUFFIXES = (".zip", ".json", ".csv", ".tcx")


def _parsers(layout: str) -> tuple:
    """The parser modules of a layout, in the order a file is offered to them."""
    if layout == TAKEOUT:
        from history import takeout_fitbit, takeout_google

        return (takeout_google, takeout_fitbit)
    from history import legacy

    return (legacy,)


@dataclasses.dataclass(frozen=True)
class Source:
    """One file to import: a plain file, or a member of a zip file.

    Attributes:
        container: the file's full path (local or gs://), or the zip's.
        member: the path inside the export: relative to the import's root for a
            plain file, the member name for a zip's.
        in_zip: whether `member` is inside the `container` zip.
    """

    container: str
    member: str
    in_zip: bool = False

    @property
    def name(self) -> str:
        return f"{self.container}{MEMBER_SEPARATOR}{self.member}" if self.in_zip else self.container


def _relative(path: str, root: str) -> str:
    """A plain file's path inside the export: below the import's root; for a single file,
    from its `Takeout/` folder on, else its last three parts (a legacy
    `{endpoint}/{YYYYMMDD}/{file}`)."""
    root = root.rstrip("/")
    if root and path.startswith(root + "/"):
        return path[len(root) + 1 :]
    _, takeout, rest = path.rpartition("/Takeout/")
    if takeout:
        return f"Takeout/{rest}"
    scheme, _, rest = path.rpartition("://")
    parts = [part for part in rest.split("/") if part]
    if scheme:
        parts = parts[1:]  # the bucket
    return "/".join(parts[-3:])


def _open(path: str):
    """A file as it is stored (a zip is seeked in: gs:// reads are ranged, nothing unpacked)."""
    return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def list_sources(path: str, root: str) -> Iterator[Source]:
    """The files a matched path holds: a zip's members, or the file itself."""
    if path.lower().endswith(".zip"):
        with _open(path) as f, zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield Source(path, info.filename.lstrip("/"), in_zip=True)
        return
    yield Source(path, _relative(path, root))


def _read_zip_members(path: str, members: list[str]) -> Iterator[tuple[str, bytes | Exception]]:
    with _open(path) as f, zipfile.ZipFile(f) as archive:
        for member in members:
            try:
                yield member, archive.read(member)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
                yield member, err


class _ParseFilesFn(beam.DoFn):
    """A matched file (a zip's members, or itself) -> units, skips and dead letters.

    Args:
        layout: `takeout` or `legacy`.
        root: the path the import was given (plain files are named relative to it).
        user_key, zone: the user and zone of a Takeout export, or of every file of a
            legacy archive loaded as one user.
        legacy_users: legacy user id -> (user key, zone), for a study's legacy archive.
        clock: stamps dead letters (test seam).
    """

    DEAD_LETTER = "dead_letter"

    def __init__(
        self,
        layout: str,
        root: str,
        user_key: str,
        zone: str,
        legacy_users: dict[str, tuple[str, str]],
        clock: Callable[[], dt.datetime] | None,
    ):
        self.layout = layout
        self.root = root
        self.user_key = user_key
        self.zone = zone
        self.legacy_users = legacy_users
        self.clock = clock

    def setup(self):
        self.parsers = _parsers(self.layout)
        self.read = Metrics.counter(NAMESPACE, "import_files_read")
        self.units = Metrics.counter(NAMESPACE, "import_units")
        self.zones: dict[str, ZoneInfo] = {}

    def _zone(self, name: str) -> ZoneInfo:
        zone = self.zones.get(name)
        if zone is None:
            zone = self.zones[name] = ZoneInfo(name)
        return zone

    def _skip(self, reason: str) -> None:
        Metrics.counter(NAMESPACE, f"{SKIPPED_PREFIX}{reason}").inc()

    def _dead(self, source: str, err: Exception, user_key: str = "") -> pvalue.TaggedOutput:
        Metrics.counter(NAMESPACE, "dead_letters_import").inc()
        return pvalue.TaggedOutput(
            self.DEAD_LETTER,
            DeadLetter(
                stage="import",
                original={"file": source, "layout": self.layout},
                error_class=type(err).__name__,
                message=str(err)[:1000],
                timestamp=utc_now_rfc3339(self.clock() if self.clock else None),
                user_key=user_key,
                replayable=False,
            ),
        )

    def _claim(self, member: str, superseded: frozenset[str]):
        """(parser, what the file holds) for the first parser that knows the file."""
        for parser in self.parsers:
            held = parser.classify(member)
            if held is None:
                continue
            if isinstance(held, str) and parser.LAYOUT == "takeout-fitbit" and held in superseded:
                return parser, Skipped(member, "superseded")
            return parser, held
        return None, Skipped(member, "unknown")

    def _context(self, parser, member: str, source: str) -> ParseContext:
        """Whose file it is, and in which zone. Raises MalformedFile for an unknown user."""
        if self.layout == LEGACY and self.legacy_users:
            legacy_id = parser.legacy_user_id(member)
            mapped = self.legacy_users.get(legacy_id)
            if mapped is None:
                raise MalformedFile(
                    f"{member}: the legacy user id {legacy_id[:40]!r} is not in --legacy_users"
                )
            return ParseContext(mapped[0], self._zone(mapped[1]), source)
        return ParseContext(self.user_key, self._zone(self.zone), source)

    def process(self, path: str, superseded: frozenset[str]):
        try:
            sources = list(list_sources(path, self.root))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            yield self._dead(
                path, MalformedFile(f"{path}: not a readable zip file ({err})"), self.user_key
            )
            return
        wanted: list[tuple[Source, object]] = []
        for source in sources:
            parser, held = self._claim(source.member, superseded)
            if isinstance(held, Skipped):
                self._skip(held.reason)
                continue
            wanted.append((source, parser))
        if not wanted:
            return
        if sources[0].in_zip:
            by_member = {s.member: (s, p) for s, p in wanted}
            contents = _read_zip_members(path, list(by_member))
            for member, data in contents:
                yield from self._parse(*by_member[member], data)
        else:
            source, parser = wanted[0]
            try:
                with _open(path) as f:
                    data: bytes | Exception = f.read()
            except OSError as err:
                data = err
            yield from self._parse(source, parser, data)

    def _owner(self, parser, member: str) -> str:
        """Whose file it is, for its dead letter (`fitbeam forget` finds letters by key)."""
        if self.layout == LEGACY and self.legacy_users:
            mapped = self.legacy_users.get(parser.legacy_user_id(member))
            return mapped[0] if mapped else ""
        return self.user_key

    def _parse(self, source: Source, parser, data: bytes | Exception):
        name = source.name
        if isinstance(data, Exception):
            error = MalformedFile(f"{source.member}: cannot be read ({data})")
            yield self._dead(name, error, self._owner(parser, source.member))
            return
        try:
            ctx = self._context(parser, source.member, name)
            outcomes = list(parser.parse(source.member, data, ctx))
        except MalformedFile as err:
            yield self._dead(name, err, self._owner(parser, source.member))
            return
        units = [outcome for outcome in outcomes if not isinstance(outcome, Skipped)]
        if not units:
            # Read, and nothing in it: counted once, as its parser says why.
            reasons = [outcome.reason for outcome in outcomes]
            self._skip(reasons[0] if reasons else "empty")
            return
        self.read.inc()
        self.units.inc(len(units))
        yield from units


def _shared_types(layout: str, paths: list[str]) -> frozenset[str]:
    """The types a Takeout export holds in its Google Health layout (read from it only)."""
    if layout != TAKEOUT or not paths:
        return frozenset()
    from history import takeout_google

    return frozenset(takeout_google.data_types_present(paths))


class _UnitRowsFn(beam.DoFn):
    """ImportUnit -> its rows and its `load_windows` row; bad points become dead letters."""

    DEAD_LETTER = "dead_letter"

    def __init__(
        self,
        run_id: str,
        ingest_time: dt.datetime,
        origin: str,
        clock: Callable[[], dt.datetime] | None,
    ):
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.origin = origin
        self.clock = clock

    def process(self, unit: ImportUnit):
        load_id = f"{self.run_id}-{uuid.uuid4().hex[:16]}"
        ctx = datapoints.RowContext(unit.user_key, self.run_id, self.ingest_time, load_id)
        count = 0
        if unit.table:
            table = unit.table
            for row in unit.rows:
                yield (
                    table,
                    {
                        **row,
                        "run_id": self.run_id,
                        "ingest_time": self.ingest_time,
                        "load_id": load_id,
                    },
                )
                count += 1
        else:
            table = datatypes.spec(unit.data_type).table
            for point in unit.points:
                try:
                    pairs = datapoints.rows_for_point(unit.data_type, point, ctx, "reconciled")
                except _POINT_ERRORS as err:
                    yield pvalue.TaggedOutput(self.DEAD_LETTER, self._dead(unit, point, err))
                    continue
                for pair in pairs:
                    yield pair
                    count += pair[0] == table
        yield load_windows.TABLE, self._load_row(unit, table, ctx, count)

    def _load_row(self, unit: ImportUnit, table: str, ctx: datapoints.RowContext, count: int):
        loaded_at = self.clock() if self.clock else dt.datetime.now(dt.UTC)
        if unit.data_point_id:
            # A TCX export: recorded by its exercise, dated by its trackpoints.
            window = (None, None)
            civil_date = next((r.get("civil_date") for r in unit.rows), None) or loaded_at.date()
        else:
            window = (load_windows.civil_bound(unit.start), load_windows.civil_bound(unit.end))
            civil_date = window[0].date()
        return load_windows.window_row(
            ctx,
            table,
            "reconciled",
            window,
            unit.data_point_id or None,
            civil_date,
            count,
            loaded_at,
            origin=self.origin,
            source_uri=unit.source,
        )

    def _dead(self, unit: ImportUnit, point: object, err: Exception) -> DeadLetter:
        Metrics.counter(NAMESPACE, "dead_letters_rows").inc()
        return DeadLetter(
            stage="rows",
            original={"file": unit.source, "data_type": unit.data_type, "point": point},
            error_class=type(err).__name__,
            message=str(err)[:1000],
            timestamp=utc_now_rfc3339(self.clock() if self.clock else None),
            user_key=unit.user_key,
            replayable=False,
        )


class ImportFiles(beam.PTransform):
    """The files under a path -> (table, row) pairs (`rows`), with `dead_letter`.

    Args:
        layout: `takeout` (one person's Google Takeout export) or `legacy` (the
            original system's archive of legacy Fitbit Web API responses).
        path: a folder, a `.zip` or a glob, local or gs://.
        run_id: the import's run id (it starts with `import-`).
        ingest_time: the import's start (UTC), stamped on every row.
        user_key: whose export it is (Takeout), or the user every legacy file is
            loaded as; empty with `legacy_users`.
        time_zone: the IANA zone of the files' local times (with `user_key`).
        legacy_users: ((legacy user id, user key, zone), ...) for a study's archive.
        clock: stamps loads and dead letters (test seam).

    Raises:
        ValueError: an unknown layout, a run id without the import prefix, or no user.
    """

    def __init__(
        self,
        layout: str,
        path: str,
        run_id: str,
        ingest_time: dt.datetime,
        user_key: str = "",
        time_zone: str = "",
        legacy_users: tuple[tuple[str, str, str], ...] = (),
        clock: Callable[[], dt.datetime] | None = None,
    ):
        super().__init__()
        if layout not in (TAKEOUT, LEGACY):
            raise ValueError(f"layout {str(layout)[:40]!r} is not {TAKEOUT!r} or {LEGACY!r}")
        if not run_id.startswith(load_windows.IMPORT_RUN_PREFIX):
            raise ValueError(
                f"run_id {run_id[:60]!r} must start with {load_windows.IMPORT_RUN_PREFIX!r}, "
                "e.g. import-takeout-20261206T120000Z-a1b2c3"
            )
        if not legacy_users and not (user_key and time_zone):
            raise ValueError("an import needs user_key and time_zone, or legacy_users")
        self.layout = layout
        self.path = path.rstrip("/")
        self.run_id = run_id
        self.ingest_time = ingest_time
        self.user_key = user_key
        self.time_zone = time_zone
        self.legacy_users = {legacy: (key, zone) for legacy, key, zone in legacy_users}
        self.clock = clock

    def _pattern(self) -> str:
        """A glob, a zip or a single file as given; a folder as everything under it."""
        if any(c in self.path for c in "*?[") or self.path.lower().endswith(_FILE_SUFFIXES):
            return self.path
        return f"{self.path}/**"

    def _root(self) -> str:
        """What files are named relative to: the folder, or a glob's part before its first
        wildcard (`gs://b/takeout/**/*.json` -> `gs://b/takeout`)."""
        first = min((self.path.find(c) for c in "*?[" if c in self.path), default=-1)
        if first < 0:
            return self.path if not self.path.lower().endswith(_FILE_SUFFIXES) else ""
        return self.path[:first].rpartition("/")[0]

    def expand(self, pbegin):
        layout, root = self.layout, self._root()
        files = (
            pbegin
            | "Find" >> fileio.MatchFiles(self._pattern())
            | "Paths" >> beam.Map(lambda metadata: metadata.path)
            | "Spread" >> beam.Reshuffle()
        )
        if layout == TAKEOUT:
            # One person's export: its file list is small enough to meet in one place.
            listed = (
                files
                | "List" >> beam.FlatMap(lambda path: [s.member for s in _safe_list(path, root)])
                | "Gather" >> beam.CombineGlobally(beam.combiners.ToListCombineFn())
                | "SharedTypes" >> beam.Map(lambda paths: _shared_types(layout, paths))
            )
        else:
            listed = pbegin | "NoSharedTypes" >> beam.Create([frozenset()])
        parsed = files | "Parse" >> beam.ParDo(
            _ParseFilesFn(
                layout, root, self.user_key, self.time_zone, self.legacy_users, self.clock
            ),
            superseded=beam.pvalue.AsSingleton(listed),
        ).with_outputs(_ParseFilesFn.DEAD_LETTER, main="units")
        built = (
            parsed.units
            | "SpreadUnits" >> beam.Reshuffle()
            | "Rows"
            >> beam.ParDo(
                _UnitRowsFn(self.run_id, self.ingest_time, layout, self.clock)
            ).with_outputs(_UnitRowsFn.DEAD_LETTER, main="rows")
        )
        dead = (parsed.dead_letter, built.dead_letter) | "Letters" >> beam.Flatten()
        return {"rows": built.rows, "dead_letter": dead}


def _safe_list(path: str, root: str) -> list[Source]:
    """`list_sources`, or nothing for a file that is not a readable zip (parsing says why)."""
    try:
        return list(list_sources(path, root))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return []
