"""What `make demo` and `make test` need on this machine, checked before they start.

Only the standard library, so that it runs before the virtual environment
exists (`python3 -m localdev.prerequisites demo`). Each missing piece is one
line saying what is missing and how to get it:

- the project: Python 3.11 or newer;
- the BigQuery emulator (`make demo`, `make test`): Python 3.13, in a virtual
  environment of its own under `.local/emu` (installed on first use);
- the Pub/Sub emulator (`make test`: the streaming, enqueue and relay tests):
  Java 17 or newer and the Google Cloud CLI's Pub/Sub emulator jar;
- Chromium (`make test`: the study report's browser tests, tests/browser):
  Debian's `chromium` package at /usr/bin/chromium, or FITBEAM_CHROMIUM.

    python3 -m localdev.prerequisites demo    # exit 1 and one line per missing piece
    python3 -m localdev.prerequisites test
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

NEEDS = {
    "demo": ("python", "python313"),
    "test": ("python", "python313", "java", "pubsub", "chromium"),
}
MIN_PYTHON = (3, 11)
MIN_JAVA = 17
CHROMIUM = "/usr/bin/chromium"


class Missing(RuntimeError):
    """A prerequisite is missing; the message says which and how to get it, in one line."""


def python_version_problem(version: tuple[int, ...] = sys.version_info[:2]) -> str | None:
    if tuple(version[:2]) >= MIN_PYTHON:
        return None
    have = ".".join(str(v) for v in version[:2])
    return (
        f"Python {have} is too old: fitbeam needs Python 3.11 or newer "
        "(e.g. pyenv install 3.11, then PYTHON=python3.11 make ...)"
    )


def python313(
    env: Mapping[str, str] = os.environ, which: Callable[[str], str | None] = shutil.which
) -> str:
    """The Python 3.13 interpreter the BigQuery emulator runs on.

    `FITBEAM_PYTHON313` wins; then pyenv's installed 3.13 versions (pyenv's shim
    answers to `python3.13` even when that version is not installed, so shims
    are not trusted); then `python3.13` on PATH.

    Raises:
        Missing: no Python 3.13 was found.
    """
    override = env.get("FITBEAM_PYTHON313")
    if override:
        if not Path(override).is_file():
            raise Missing(f"FITBEAM_PYTHON313={override} is not a file: point it at python3.13")
        return override
    pyenv_root = env.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python"))
    if candidates:
        return candidates[-1]
    found = which("python3.13")
    if found and "shims" not in found:
        return found
    raise Missing(
        "the BigQuery emulator needs Python 3.13: install it (pyenv install 3.13, or your "
        "system's python3.13 package) or set FITBEAM_PYTHON313=/path/to/python3.13"
    )


def java(
    which: Callable[[str], str | None] = shutil.which,
    version_of: Callable[[str], str] | None = None,
) -> str:
    """The `java` the Pub/Sub emulator runs on (17 or newer).

    Raises:
        Missing: no java, or one too old.
    """
    found = which("java")
    hint = "apt-get install openjdk-17-jre-headless (or any Java 17+ on PATH)"
    if not found:
        raise Missing(f"the Pub/Sub emulator needs Java {MIN_JAVA}+ and none is on PATH: {hint}")
    text = (version_of or _java_version_text)(found)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):  # "1.8.0" is Java 8
            major = int(match.group(2))
        if major < MIN_JAVA:
            raise Missing(
                f"{found} is Java {major}; the Pub/Sub emulator needs {MIN_JAVA}+: {hint}"
            )
    return found


def _java_version_text(path: str) -> str:
    result = subprocess.run(  # noqa: S603 - the java found on PATH, a fixed flag
        [path, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    return result.stderr + result.stdout


def pubsub_jar(
    env: Mapping[str, str] = os.environ, which: Callable[[str], str | None] = shutil.which
) -> str:
    """The Pub/Sub emulator jar that ships with the Google Cloud CLI.

    Raises:
        Missing: no jar under the CLI's root (CLOUDSDK_ROOT_DIR, the gcloud on PATH,
            or /usr/lib/google-cloud-sdk).
    """
    roots = [env.get("CLOUDSDK_ROOT_DIR", ""), "/usr/lib/google-cloud-sdk"]
    gcloud = which("gcloud")
    if gcloud:
        roots.append(str(Path(os.path.realpath(gcloud)).parent.parent))
    for root in filter(None, roots):
        jars = sorted(glob.glob(f"{root}/platform/pubsub-emulator/lib/cloud-pubsub-emulator-*.jar"))
        if jars:
            return jars[-1]
    raise Missing(
        "the Pub/Sub emulator is not installed: gcloud components install pubsub-emulator "
        "(or apt-get install google-cloud-cli-pubsub-emulator), or set CLOUDSDK_ROOT_DIR"
    )


def chromium(env: Mapping[str, str] = os.environ) -> str:
    """The Chromium that tests/browser drives through Playwright (which downloads none here).

    `FITBEAM_CHROMIUM` wins; otherwise Debian's /usr/bin/chromium.

    Raises:
        Missing: no executable there.
    """
    path = env.get("FITBEAM_CHROMIUM") or CHROMIUM
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    raise Missing(
        f"the report's browser tests need Chromium and {path} is not there: "
        "apt-get update && apt-get install -y --no-install-recommends chromium "
        "(or point FITBEAM_CHROMIUM at another Chromium)"
    )


_CHECKS: dict[str, Callable[[], object]] = {
    "python313": python313,
    "java": java,
    "pubsub": pubsub_jar,
    "chromium": chromium,
}


def problems(command: str) -> list[str]:
    """One line per missing prerequisite of `command` (`demo` or `test`); none when all is there."""
    out = []
    for need in NEEDS[command]:
        if need == "python":
            problem = python_version_problem()
            if problem:
                out.append(problem)
            continue
        try:
            _CHECKS[need]()
        except Missing as missing:
            out.append(str(missing))
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in NEEDS:
        print(f"usage: python3 -m localdev.prerequisites {{{','.join(NEEDS)}}}", file=sys.stderr)
        return 2
    missing = problems(argv[0])
    for line in missing:
        print(f"make {argv[0]}: missing: {line}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
