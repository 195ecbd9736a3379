"""The list/reconcile `filter` language of the Google Health API (a subset of AIP-160).

Supported, as the discovery document describes: comparisons `member >= "literal"`
and `member < "literal"` joined by `AND` (and `OR` for sleep only), with
parentheses. Members depend on the data type (see `simulator.catalog`). The API
answers every bad filter with the ErrorInfo reason `INVALID_DATA_POINT_FILTER`
and names the finer cause in its `metadata.detailedReasons`
(`simulator.errors.invalid_filter`); `FilterError.reason` is that cause:

- INVALID_DATA_POINT_FILTER_SYNTAX: unreadable text (bad character, open string);
- INVALID_DATA_POINT_FILTER_MISSING_TOKEN: the filter ends where more is needed;
- INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN: a token where another is needed,
  an unsupported operator (`>`, `<=`, `=`, ..., and `<` for the types without upper
  bounds, electrocardiogram) or `OR` outside sleep;
- INVALID_DATA_POINT_FILTER_DATA_TYPE_RESTRICTION: the member's prefix is not
  the queried type's snake_case name (camelCase or another type);
- INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER: a member the type does not support;
- INVALID_FILTER_FORMAT: a literal that does not parse for its member.

AIP-160 gives OR a higher precedence than AND: `a AND b OR c` is `a AND (b OR c)`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

from simulator import timefmt
from simulator.catalog import DataType
from simulator.synth import Point

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>>=|<=|!=|>|<|=|:)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
# Matched whole and in ASCII digits, as the API reads them: `$` would also take a trailing
# newline, and `\d` any script's digits.
_CIVIL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FilterError(ValueError):
    """A filter the API would reject; `reason` is the detailed cause (see the module)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Comparison:
    member: str
    op: str  # ">=" or "<"
    value: object  # epoch float, naive datetime, or date


@dataclasses.dataclass(frozen=True)
class Junction:
    op: str  # "AND" or "OR"
    parts: tuple


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if not match:
            raise FilterError(
                "INVALID_DATA_POINT_FILTER_SYNTAX",
                f"Invalid filter syntax at position {pos}: {text[pos : pos + 20]!r}.",
            )
        kind = match.lastgroup
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, data_type: DataType):
        self.tokens = _tokens(text)
        self.pos = 0
        self.data_type = data_type

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError(
                "INVALID_DATA_POINT_FILTER_MISSING_TOKEN",
                f"Filter ended where {expected} was expected.",
            )
        self.pos += 1
        return token

    def unexpected(self, token: tuple[str, str], expected: str) -> FilterError:
        return FilterError(
            "INVALID_DATA_POINT_FILTER_UNEXPECTED_TOKEN",
            f"Unexpected token {token[1]!r} in filter; expected {expected}.",
        )

    def parse(self):
        node = self.conjunction()
        token = self.peek()
        if token is not None:
            raise self.unexpected(token, "AND or the end of the filter")
        return node

    def conjunction(self):
        parts = [self.disjunction()]
        while (token := self.peek()) is not None and token == ("word", "AND"):
            self.pos += 1
            parts.append(self.disjunction())
        return parts[0] if len(parts) == 1 else Junction("AND", tuple(parts))

    def disjunction(self):
        parts = [self.factor()]
        while (token := self.peek()) is not None and token == ("word", "OR"):
            if not self.data_type.or_allowed:
                raise self.unexpected(token, "AND (OR is supported for sleep only)")
            self.pos += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Junction("OR", tuple(parts))

    def factor(self):
        token = self.take("a comparison")
        if token == ("paren", "("):
            node = self.conjunction()
            closing = self.take("')'")
            if closing != ("paren", ")"):
                raise self.unexpected(closing, "')'")
            return node
        if token[0] != "word" or token[1] in ("AND", "OR"):
            raise self.unexpected(token, "a field name")
        member = self.member(token[1])
        op = self.take("an operator")
        allowed = (">=", "<") if self.data_type.upper_bounds else (">=",)
        if op[0] != "op" or op[1] not in allowed:
            raise self.unexpected(op, " or ".join(f"'{o}'" for o in allowed))
        literal = self.take("a quoted literal")
        if literal[0] != "string":
            raise self.unexpected(literal, "a quoted literal")
        return Comparison(member, op[1], _literal(member, literal[1][1:-1]))

    def member(self, field: str) -> str:
        prefix, _, member = field.partition(".")
        if prefix != self.data_type.filter_name:
            raise FilterError(
                "INVALID_DATA_POINT_FILTER_DATA_TYPE_RESTRICTION",
                f"Filter field {field!r} does not belong to data type "
                f"{self.data_type.filter_name!r}.",
            )
        if member not in self.data_type.filter_members:
            raise FilterError(
                "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER",
                f"Filter member {member!r} is not supported for data type "
                f"{self.data_type.filter_name!r}; supported: "
                f"{', '.join(self.data_type.filter_members)}.",
            )
        return member


def _literal(member: str, text: str) -> object:
    try:
        if member == "date":
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            return dt.date.fromisoformat(text)
        if member.split(".")[-1].startswith("civil_"):
            if not _CIVIL.fullmatch(text):
                raise ValueError(text)
            return dt.datetime.fromisoformat(text)
        return timefmt.parse_rfc3339(text)
    except ValueError as err:
        raise FilterError(
            "INVALID_FILTER_FORMAT",
            f"Invalid literal {text!r} for filter member {member!r}.",
        ) from err


@dataclasses.dataclass(frozen=True)
class Filter:
    """A parsed filter: a predicate on points plus the civil days it can match."""

    node: object
    zone: ZoneInfo
    _test: Callable[[Point], bool] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_test", _predicate(self.node, self.zone))

    def matches(self, p: Point) -> bool:
        return self._test(p)

    def day_range(self) -> tuple[dt.date | None, dt.date | None]:
        """Inclusive civil-day bounds outside which no point can match (None: open)."""
        if self.node is None:
            return None, None
        comparisons = _conjuncts(self.node)
        if comparisons is None:
            return None, None
        lo: dt.date | None = None
        hi: dt.date | None = None
        for c in comparisons:
            day = _day_of(c.value, self.zone)
            if c.op == ">=":
                lo = day if lo is None else max(lo, day)
            else:
                hi = day if hi is None else min(hi, day)
        margin = dt.timedelta(days=1)
        return (lo - margin if lo else None), (hi + margin if hi else None)


def _conjuncts(node) -> list[Comparison] | None:
    if isinstance(node, Comparison):
        return [node]
    if node.op == "OR":
        return None
    out = []
    for part in node.parts:
        sub = _conjuncts(part)
        if sub is None:
            continue  # an OR branch bounds nothing on its own
        out.extend(sub)
    return out


def _day_of(value: object, zone: ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return timefmt.local_datetime(value, zone).date()


def _value(member: str, p: Point, zone: ZoneInfo) -> object:
    match member:
        case "interval.start_time" | "sample_time.physical_time":
            return p.start
        case "interval.end_time":
            return p.end
        case "interval.civil_start_time" | "sample_time.civil_time":
            return timefmt.local_datetime(p.start, zone)
        case "interval.civil_end_time":
            return timefmt.local_datetime(p.end, zone)
        case "date":
            return p.day
    raise KeyError(member)


def _evaluate(node, p: Point, zone: ZoneInfo) -> bool:
    if node is None:
        return True
    if isinstance(node, Comparison):
        value = _value(node.member, p, zone)
        return value >= node.value if node.op == ">=" else value < node.value
    results = (_evaluate(part, p, zone) for part in node.parts)
    return all(results) if node.op == "AND" else any(results)


_NAIVE_EPOCH = dt.datetime(1970, 1, 1)
_SECOND = dt.timedelta(seconds=1)
_CIVIL_FIELDS = {
    "interval.civil_start_time": "start",
    "sample_time.civil_time": "start",
    "interval.civil_end_time": "end",
}


def _predicate(node, zone: ZoneInfo) -> Callable[[Point], bool]:
    """`_evaluate(node, p, zone)` as a function of the point, built once per filter.

    A list call tests every point of the days it reads, so the civil-time
    comparisons are made on seconds (whole-second instants against whole-second
    literals) rather than on datetimes; the result is the same.
    """
    if node is None:
        return lambda p: True
    if isinstance(node, Junction):
        parts = tuple(_predicate(part, zone) for part in node.parts)
        if node.op == "AND":
            if len(parts) == 2:
                first, second = parts
                return lambda p: first(p) and second(p)
            return lambda p: all(test(p) for test in parts)
        return lambda p: any(test(p) for test in parts)
    field = _CIVIL_FIELDS.get(node.member)
    if field is None or node.value.microsecond:
        return lambda p: _evaluate(node, p, zone)
    instant = operator.attrgetter(field)
    bound = (node.value - _NAIVE_EPOCH) // _SECOND
    offset = timefmt.utc_offset_seconds
    if node.op == ">=":

        def at_or_after(p: Point) -> bool:
            t = instant(p)
            if type(t) is int:
                return t + offset(t, zone) >= bound
            return _evaluate(node, p, zone)

        return at_or_after

    def before(p: Point) -> bool:
        t = instant(p)
        if type(t) is int:
            return t + offset(t, zone) < bound
        return _evaluate(node, p, zone)

    return before


def parse_filter(text: str | None, data_type: DataType, zone: ZoneInfo) -> Filter:
    """Parses a filter for one data type.

    Raises:
        FilterError: with the reason the API gives for that mistake.
    """
    if text is None or not text.strip():
        return Filter(None, zone)
    return Filter(_Parser(text, data_type).parse(), zone)


Predicate = Callable[[Point], bool]
