"""How the fitbeam command logs: text on a terminal, JSON lines on Google Cloud.

Cloud Logging reads a JSON object per line from a container's stdout or
stderr as a structured entry: `severity` sets the entry's level, `message` its
text, and the other keys land in `jsonPayload` where they can be filtered on
(`jsonPayload.logger="healthapi.auth.broker"`). The Flex Template launcher, Cloud
Run jobs (`fitbeam enqueue`) and the notifications relay therefore log JSON
there. On Dataflow workers the Beam SDK harness ships log records itself,
with their severity, step and job.

The format is `FITBEAM_LOG_FORMAT` (`json` or `text`) when set; otherwise JSON
when the process runs on Cloud Run or as a Flex Template launcher, text
elsewhere.

Nothing here adds fields from the records' arguments: what the code logs is
already free of tokens, headers and secrets, and the formatter adds no more.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os

# Set by Cloud Run services and jobs, and in the Flex Template launcher container.
_GOOGLE_CLOUD_ENV = ("K_SERVICE", "CLOUD_RUN_JOB", "FLEX_TEMPLATE_PYTHON_PY_FILE")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, in the fields Cloud Logging understands."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
        }
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_format(environ: dict[str, str] | None = None) -> str:
    """`json` or `text`, from `FITBEAM_LOG_FORMAT` or where the process runs.

    Raises:
        ValueError: for a `FITBEAM_LOG_FORMAT` that is neither.
    """
    environ = os.environ if environ is None else environ
    chosen = environ.get("FITBEAM_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    if chosen:
        raise ValueError(f"FITBEAM_LOG_FORMAT={chosen[:20]!r}: use json or text")
    return "json" if any(environ.get(name) for name in _GOOGLE_CLOUD_ENV) else "text"


def configure(level: int = logging.INFO, environ: dict[str, str] | None = None) -> None:
    """Sets up the root logger once for a command (the first call wins, as basicConfig)."""
    handler = logging.StreamHandler()
    if log_format(environ) == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
