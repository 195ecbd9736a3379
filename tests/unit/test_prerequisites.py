"""localdev.prerequisites: each missing piece is named, with how to get it, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from localdev import prerequisites
from localdev.prerequisites import Missing

ROOT = Path(__file__).resolve().parents[2]


def test_python_311_or_newer_passes_and_older_is_named():
    assert prerequisites.python_version_problem((3, 11)) is None
    assert prerequisites.python_version_problem((3, 13)) is None
    assert prerequisites.python_version_problem((3, 10)) == (
        "Python 3.10 is too old: fitbeam needs Python 3.11 or newer "
        "(e.g. pyenv install 3.11, then PYTHON=python3.11 make ...)"
    )


def test_python313_prefers_the_override_then_pyenv_then_path(tmp_path):
    override = tmp_path / "python3.13"
    override.write_text("")
    assert prerequisites.python313({"FITBEAM_PYTHON313": str(override)}) == str(override)
    pyenv = tmp_path / "pyenv"
    for version in ("3.13.0", "3.13.2", "3.12.1"):
        (pyenv / "versions" / version / "bin").mkdir(parents=True)
        (pyenv / "versions" / version / "bin" / "python").write_text("")
    found = prerequisites.python313({"PYENV_ROOT": str(pyenv)}, which=lambda name: None)
    assert found == f"{pyenv}/versions/3.13.2/bin/python"
    empty = {"PYENV_ROOT": str(tmp_path / "none")}
    assert prerequisites.python313(empty, which=lambda n: "/usr/bin/python3.13") == (
        "/usr/bin/python3.13"
    )


def test_a_pyenv_shim_is_not_a_python313(tmp_path):
    env = {"PYENV_ROOT": str(tmp_path)}
    with pytest.raises(Missing) as missing:
        prerequisites.python313(env, which=lambda name: "/root/.pyenv/shims/python3.13")
    assert str(missing.value) == (
        "the BigQuery emulator needs Python 3.13: install it (pyenv install 3.13, or your "
        "system's python3.13 package) or set FITBEAM_PYTHON313=/path/to/python3.13"
    )


def test_an_override_that_is_no_file_is_named(tmp_path):
    with pytest.raises(Missing, match=r"FITBEAM_PYTHON313=/nope is not a file"):
        prerequisites.python313({"FITBEAM_PYTHON313": "/nope"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('openjdk version "17.0.15" 2025-04-15', None),
        ('openjdk version "21" 2023-09-19', None),
        ('java version "1.8.0_392"', "/usr/bin/java is Java 8"),
        ('openjdk version "11.0.2" 2019-01-15', "/usr/bin/java is Java 11"),
    ],
)
def test_java_17_or_newer(text, problem):
    check = lambda: prerequisites.java(  # noqa: E731
        which=lambda name: "/usr/bin/java", version_of=lambda path: text
    )
    if problem is None:
        assert check() == "/usr/bin/java"
    else:
        with pytest.raises(Missing, match=f"^{problem}; the Pub/Sub emulator needs 17"):
            check()


def test_no_java_says_how_to_get_one():
    with pytest.raises(Missing) as missing:
        prerequisites.java(which=lambda name: None)
    assert str(missing.value) == (
        "the Pub/Sub emulator needs Java 17+ and none is on PATH: "
        "apt-get install openjdk-17-jre-headless (or any Java 17+ on PATH)"
    )


def test_the_pubsub_jar_is_found_under_the_cloud_cli_root(tmp_path):
    lib = tmp_path / "platform" / "pubsub-emulator" / "lib"
    lib.mkdir(parents=True)
    for name in ("cloud-pubsub-emulator-0.8.19-all.jar", "cloud-pubsub-emulator-0.8.20-all.jar"):
        (lib / name).write_text("")
    env = {"CLOUDSDK_ROOT_DIR": str(tmp_path)}
    assert prerequisites.pubsub_jar(env, which=lambda n: None) == str(
        lib / "cloud-pubsub-emulator-0.8.20-all.jar"
    )


def test_no_pubsub_jar_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(prerequisites.glob, "glob", lambda pattern: [])
    with pytest.raises(Missing, match="gcloud components install pubsub-emulator"):
        prerequisites.pubsub_jar({"CLOUDSDK_ROOT_DIR": str(tmp_path)}, which=lambda n: None)


def test_chromium_is_debians_or_the_override(tmp_path):
    browser = tmp_path / "chromium"
    browser.write_text("")
    browser.chmod(0o755)
    assert prerequisites.chromium({"FITBEAM_CHROMIUM": str(browser)}) == str(browser)
    assert prerequisites.CHROMIUM == "/usr/bin/chromium"


def test_no_chromium_says_how_to_get_it(tmp_path):
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    for path in (not_executable, tmp_path / "none"):
        with pytest.raises(Missing) as missing:
            prerequisites.chromium({"FITBEAM_CHROMIUM": str(path)})
        assert str(missing.value) == (
            f"the report's browser tests need Chromium and {path} is not there: "
            "apt-get update && apt-get install -y --no-install-recommends chromium "
            "(or point FITBEAM_CHROMIUM at another Chromium)"
        )


def test_make_test_needs_chromium_and_make_demo_does_not(monkeypatch):
    monkeypatch.setenv("FITBEAM_CHROMIUM", "/nope/chromium")
    line = "the report's browser tests need Chromium and /nope/chromium is not there"
    assert [p for p in prerequisites.problems("test") if p.startswith(line)] != []
    assert [p for p in prerequisites.problems("demo") if "Chromium" in p] == []


def test_the_command_prints_one_line_per_missing_piece_and_fails():
    result = subprocess.run(
        [sys.executable, "-m", "localdev.prerequisites", "demo"],
        cwd=ROOT,
        env={"FITBEAM_PYTHON313": "/nope", "PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "make demo: missing: FITBEAM_PYTHON313=/nope is not a file: point it at python3.13"
    ]


def test_the_command_names_its_choices():
    result = subprocess.run(
        [sys.executable, "-m", "localdev.prerequisites", "deploy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stderr) == (
        2,
        "usage: python3 -m localdev.prerequisites {demo,test}\n",
    )
