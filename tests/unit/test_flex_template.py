"""The Flex Template metadata, its launch entry and the image it runs in.

`flex_template.json` must list every option of `FitbeamOptions` as a parameter,
optional exactly where the option has a default or is one of the request sources,
each with an anchored regex that takes its own example and refuses known bad values;
and it must be what `python -m pipeline.flex_template` prints. The Dockerfile is
checked statically: it cannot be built here.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import flex_template
from pipeline.options import FitbeamOptions, resolve

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = json.loads((ROOT / "flex_template.json").read_text())
PARAMS = {p["name"]: p for p in COMMITTED["parameters"]}
# Alternative request sources: each may be left out, `resolve` checks the combination.
REQUEST_SOURCES = {"users", "start_date", "end_date"}
# Left out by a rebuild or an import (no API call); `resolve` asks for it otherwise.
NOT_NEEDED_BY_EVERY_JOB = {"token_store"}


def _option_defaults() -> dict[str, object]:
    parser = argparse.ArgumentParser(add_help=False)
    FitbeamOptions._add_argparse_args(parser)
    return vars(parser.parse_args([]))


OPTIONS = _option_defaults()


def _example(param: dict) -> str:
    found = re.search(r"e\.g\. (\S+)$", param["helpText"])
    assert found, f"{param['name']}: help text has no 'e.g. ...' example at its end"
    return found.group(1)


def test_committed_file_is_the_generators_output():
    assert (ROOT / "flex_template.json").read_text() == flex_template.render(), (
        "flex_template.json is stale: python -m pipeline.flex_template > flex_template.json"
    )


def test_every_option_is_a_parameter_and_nothing_else():
    assert list(PARAMS) == list(OPTIONS)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_optional_exactly_where_the_option_may_be_left_out(name):
    has_default = OPTIONS[name] is not None
    optional = has_default or name in REQUEST_SOURCES or name in NOT_NEEDED_BY_EVERY_JOB
    assert PARAMS[name]["isOptional"] is optional


def test_required_parameters_are_the_ones_without_a_default():
    required = [p["name"] for p in COMMITTED["parameters"] if not p["isOptional"]]
    # The token store too, for the jobs that call the API: a rebuild or an import does not.
    assert required == ["dataset", "dead_letter_root"]
    assert flex_template.NOT_NEEDED_BY_EVERY_JOB == NOT_NEEDED_BY_EVERY_JOB


@pytest.mark.parametrize("name", list(OPTIONS))
def test_parameter_fields(name):
    param = PARAMS[name]
    assert set(param) == {"name", "label", "helpText", "isOptional", "regexes", "paramType"}
    assert param["label"] and param["helpText"]
    assert len(param["regexes"]) == 1


@pytest.mark.parametrize("name", list(OPTIONS))
def test_regex_is_anchored_and_takes_its_own_example(name):
    param = PARAMS[name]
    (regex,) = param["regexes"]
    assert regex.startswith("^") and regex.endswith("$"), regex
    assert re.match(regex, _example(param)), f"{name}: the regex refuses its own example"


@pytest.mark.parametrize("name", list(OPTIONS))
def test_regex_takes_the_listed_good_values(name):
    (regex,) = PARAMS[name]["regexes"]
    for value in flex_template.PARAMETERS[name].good:
        assert re.match(regex, value), f"{name}: refuses {value!r}"


@pytest.mark.parametrize("name", list(OPTIONS))
def test_regex_refuses_the_listed_bad_values(name):
    (regex,) = PARAMS[name]["regexes"]
    bad = flex_template.PARAMETERS[name].bad
    assert bad, f"{name}: list at least one value the regex must refuse"
    for value in bad:
        assert not re.match(regex, value), f"{name}: accepts {value!r}"


def test_no_entries_for_options_that_do_not_exist():
    assert set(flex_template.PARAMETERS) == set(OPTIONS)


def test_streaming_flags():
    assert COMMITTED["name"] and COMMITTED["description"]
    assert (
        COMMITTED["streaming"],
        COMMITTED["supportsAtLeastOnce"],
        COMMITTED["supportsExactlyOnce"],
    ) == (True, False, True)
    # Only meaningful when both modes are supported.
    assert "defaultStreamingMode" not in COMMITTED


def _examples(*names: str) -> list[str]:
    return [f"--{n}={_example(PARAMS[n])}" for n in names]


COMMON = (
    "max_range_days",
    "data_types",
    "stream",
    "api_base_url",
    "token_url",
    "token_store",
    "dataset",
    "dead_letter_root",
    "quota_per_minute",
    "max_attempts",
    "run_id",
    "report_json",
)


def test_the_examples_make_a_valid_batch_run():
    argv = [
        *_examples("users", "start_date", "end_date", "bq_write_method", *COMMON),
        "--temp_location=gs://my-bucket/tmp",
    ]
    config = resolve(PipelineOptions(argv), today=dt.date(2026, 11, 28))
    assert (config.users, config.bq_write_method) == (("user-1", "user-2"), "FILE_LOADS")
    assert config.token_store == "secretmanager://my-project/fitbeam"


def test_the_examples_make_a_valid_streaming_run():
    argv = ["--streaming", *_examples("requests_subscription", *COMMON)]
    config = resolve(PipelineOptions(argv), today=dt.date(2026, 11, 28))
    assert config.streaming and config.bq_write_method == "STREAMING_INSERTS"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--streaming=true", "--users=u"], ["--streaming", "--users=u"]),
        (["--streaming=True"], ["--streaming"]),
        (["--streaming=false", "--users=u"], ["--users=u"]),
        (["--streaming"], ["--streaming"]),
        (["--streaming=maybe"], ["--streaming=maybe"]),
        (["--stream=raw", "--data_types=a,b"], ["--stream=raw", "--data_types=a,b"]),
    ],
)
def test_launch_turns_template_booleans_into_beam_flags(argv, expected):
    seen = []

    def main(args: list[str], submit_only: bool) -> int:
        seen.append((args, submit_only))
        return 7

    assert flex_template.launch(argv, main=main) == 7
    assert seen == [(expected, True)]  # the launcher returns once the job is submitted


def test_launch_flags_parse_as_streaming():
    argv = flex_template.template_argv(["--streaming=true"])
    assert PipelineOptions(argv).get_all_options()["streaming"] is True


# -- the image -------------------------------------------------------------------------

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _setup_beam_version() -> str:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets] == ["BEAM_VERSION"]:
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no BEAM_VERSION")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each Dockerfile line, continuations joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE)
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_beam_version_is_setup_pys():
    args = [a for i, a in _instructions() if i == "ARG" and a.startswith("BEAM_VERSION=")]
    assert args == [f"BEAM_VERSION={_setup_beam_version()}"]


def test_dockerfile_builds_on_the_beam_python_311_sdk_image():
    froms = [a for i, a in _instructions() if i == "FROM"]
    assert froms[-1] == "apache/beam_python3.11_sdk:${BEAM_VERSION}"


def test_dockerfile_copies_the_flex_template_launcher():
    froms = [a for i, a in _instructions() if i == "FROM"]
    assert "${LAUNCHER_IMAGE} AS launcher" in froms
    args = [a for i, a in _instructions() if i == "ARG" and a.startswith("LAUNCHER_IMAGE=")]
    assert len(args) == 1
    assert args[0].startswith(
        "LAUNCHER_IMAGE=gcr.io/dataflow-templates-base/python311-template-launcher-base:"
    )
    binary = "/opt/google/dataflow/python_template_launcher"
    assert ("COPY", f"--from=launcher {binary} {binary}") in _instructions()


def test_dockerfile_copies_every_package_setup_py_installs():
    # A package setup.py lists but the image lacks installs as nothing, and the workers
    # fail on their first import of it.
    setup_py = (ROOT / "setup.py").read_text()
    listed = set(re.findall(r'"([a-z_]+)\*"', setup_py))
    copied = {
        args.split()[0] for op, args in _instructions() if op == "COPY" and "/tmp/fitbeam/" in args
    } - {"setup.py"}
    assert listed and copied == listed


def test_dockerfile_installs_without_cache_and_checks_dependencies():
    runs = " ".join(a for i, a in _instructions() if i == "RUN")
    assert "pip install --no-cache-dir" in runs
    assert "pip check" in runs


def test_dockerfile_sets_the_template_main_file_and_the_worker_entrypoint():
    instructions = _instructions()
    envs = [a for i, a in instructions if i == "ENV"]
    assert "FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py" in envs
    # The main file the Dockerfile writes calls this module's launch().
    runs = " ".join(a for i, a in instructions if i == "RUN")
    assert "from pipeline.flex_template import launch" in runs
    assert "sys.exit(launch(sys.argv[1:]))" in runs
    assert ("ENTRYPOINT", '["/opt/apache/beam/boot"]') in instructions


def test_dockerignore_keeps_local_state_out():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".venv", ".local", ".git", ".pytest_cache", ".ruff_cache"):
        assert entry in ignored, entry
