"""Seeded, reproducible fault injection.

A fault spec is a comma-separated list of `kind=rate` entries, for example
`503=0.02,reset=0.01,page-drop=1`. Kinds:

- `500`, `503`, `504`: an error response with the Google envelope;
- `429`: RESOURCE_EXHAUSTED (as if the per-user quota were exceeded);
- `slow`: the response is delayed by `slow-seconds` (default 2.0; `slow=0.05:1.5`
  sets rate 0.05 and 1.5 s);
- `reset`: the connection is closed without a response;
- `truncate`: a 200 whose JSON body is cut short;
- `content-type`: a 200 with an HTML body and `text/html` content type;
- `page-drop`: at a page boundary, points sharing the timestamp of the page's
  last point are skipped by the next page (the documented server bug);
- `mixed`: with this rate, one of the response faults above chosen evenly.

Entries apply to API routes (`/v4/...`); prefix a kind with `token.` to aim it
at the token endpoint instead (`token.503=0.2`).

Whether a request is hit depends only on the seed, the request itself (method,
path, query, body; at the token endpoint the grant type), the user it is for and
how many times that user's same request has been seen, never on timing, thread
order or random token values, so a run can be reproduced exactly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading

RESPONSE_KINDS = ("500", "503", "504", "429", "slow", "reset", "truncate", "content-type")
KINDS = (*RESPONSE_KINDS, "page-drop", "mixed")


def _unit(*parts: object) -> float:
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclasses.dataclass(frozen=True)
class FaultSpec:
    """Parsed fault rates for one target (`api` or `token`)."""

    rates: dict[str, float]
    slow_seconds: float = 2.0

    @classmethod
    def parse(cls, text: str | None, target: str = "api") -> FaultSpec:
        """Parses a fault spec, keeping the entries aimed at `target`.

        Raises:
            ValueError: on an unknown kind or a rate outside [0, 1].
        """
        rates: dict[str, float] = {}
        slow_seconds = 2.0
        for entry in (text or "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            kind, sep, value = entry.partition("=")
            if not sep:
                raise ValueError(f"fault entry {entry!r} needs kind=rate, e.g. 503=0.02")
            kind = kind.strip()
            entry_target = "api"
            if kind.startswith("token."):
                entry_target, kind = "token", kind[len("token.") :]
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
            rate_text, _, extra = value.partition(":")
            rate = float(rate_text)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {kind!r} must be within [0, 1], got {rate}")
            if entry_target != target:
                continue
            rates[kind] = rate
            if kind == "slow" and extra:
                slow_seconds = float(extra)
        return cls(rates, slow_seconds)


class FaultInjector:
    """Decides, reproducibly, which requests get which fault."""

    def __init__(self, spec: FaultSpec, seed: int):
        self.spec = spec
        self.seed = seed
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}

    def _attempt(self, fingerprint: str) -> int:
        with self._lock:
            n = self._seen.get(fingerprint, 0) + 1
            self._seen[fingerprint] = n
            return n

    def choose(self, fingerprint: str) -> str | None:
        """The response fault for this request, or None."""
        rates = self.spec.rates
        if not any(rates.get(k) for k in (*RESPONSE_KINDS, "mixed")):
            return None
        attempt = self._attempt(fingerprint)
        draw = _unit(self.seed, fingerprint, attempt)
        edge = 0.0
        for kind in RESPONSE_KINDS:
            edge += rates.get(kind, 0.0)
            if draw < edge:
                return self._count(kind)
        mixed = rates.get("mixed", 0.0)
        if draw < edge + mixed:
            pick = int((draw - edge) / mixed * len(RESPONSE_KINDS))
            return self._count(RESPONSE_KINDS[min(pick, len(RESPONSE_KINDS) - 1)])
        return None

    def drops_ties(self, fingerprint: str) -> bool:
        """Whether this page boundary drops the points tied with the page's last one."""
        rate = self.spec.rates.get("page-drop", 0.0)
        if rate and _unit(self.seed, fingerprint, "page-drop") < rate:
            self._count("page-drop")
            return True
        return False

    def _count(self, kind: str) -> str:
        with self._lock:
            self.injected[kind] = self.injected.get(kind, 0) + 1
        return kind
