"""The docs site builds with `mkdocs build --strict`, and the strict build can fail.

mkdocs.yml's `validation` settings make a link to a missing page, an anchor a
page does not have, and a page under docs/ missing from the nav into warnings,
which --strict turns into a failed build. These tests build the real site, then
break a copy of it each of those ways and hold that the build fails, naming
what broke. The README, which GitHub shows and the site does not hold, is
checked against the built site: each relative link names a file of the
repository, and each anchor into docs/ one the built page has.

    .venv/bin/python -m pytest -q tests/unit/test_docs.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Files outside docs/ that the site includes (pymdownx.snippets, paths from the root).
SNIPPETS = ("deploy/terraform/README.md",)

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    """`mkdocs build --strict` of `root`/mkdocs.yml into `site`, from `root` as mkdocs is run."""
    return subprocess.run(  # noqa: S603 - this interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(root / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The repository's site, built strictly; the build must pass."""
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr}"
    return out


def test_the_site_builds_strictly_with_every_page(site):
    built = {p.parent.relative_to(site).as_posix() for p in site.rglob("index.html")}
    pages = {
        "." if p.name == "index.md" else p.relative_to(ROOT / "docs").with_suffix("").as_posix()
        for p in (ROOT / "docs").rglob("*.md")
    }
    assert pages - built == set()


def _copy_of_the_docs(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for snippet in SNIPPETS:
        (copy / snippet).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / snippet, copy / snippet)
    return copy


def test_an_untouched_copy_builds(tmp_path):
    # The control for the breakages below: they fail because of what they break.
    result = build(_copy_of_the_docs(tmp_path), tmp_path / "site")
    assert result.returncode == 0, result.stderr


def _link_to_a_missing_page(docs: Path) -> None:
    with open(docs / "replay.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the old page](no-such-page.md).\n")


def _link_to_a_missing_anchor(docs: Path) -> None:
    with open(docs / "replay.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the quota](quota.md#no-such-section).\n")


def _page_missing_from_the_nav(docs: Path) -> None:
    (docs / "orphan.md").write_text("# A page nobody links\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (_link_to_a_missing_page, "no-such-page.md"),
        (_link_to_a_missing_anchor, "#no-such-section"),
        (_page_missing_from_the_nav, "orphan.md"),
    ],
    ids=["missing page", "missing anchor", "page not in nav"],
)
def test_a_broken_copy_fails_the_strict_build(tmp_path, breakage, named):
    copy = _copy_of_the_docs(tmp_path)
    breakage(copy / "docs")
    result = build(copy, tmp_path / "site")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert named in output
    assert "strict mode" in output


def broken_links(markdown: str, base: Path, site: Path) -> list[str]:
    """Relative links of `markdown` (a file in `base`) that lead nowhere.

    A link must name an existing file; an anchor into a docs/ page must be an id
    of that page as the site built it (`site`). Links in code blocks are not links.
    """
    broken = []
    for target in _LINK.findall(_FENCE.sub("", markdown)):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (base / path).resolve()
        if not file.exists():
            broken.append(target)
            continue
        if not anchor:
            continue
        try:
            page = file.relative_to(ROOT / "docs").with_suffix("")
        except ValueError:
            continue  # an anchor outside the site: GitHub's to resolve
        html = site / ("" if page.name == "index" else page) / "index.html"
        if f'id="{anchor}"' not in html.read_text(encoding="utf-8"):
            broken.append(target)
    return broken


def test_the_readme_links_lead_somewhere(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert _LINK.search(readme), "the README links into docs/"
    assert broken_links(readme, ROOT, site) == []


def test_the_readme_link_check_finds_broken_links(site):
    text = (
        "[ok](docs/replay.md) [ok](docs/quota.md#the-benchmark) [site](https://example.com)\n"
        "[gone](docs/no-such-page.md) [no anchor](docs/quota.md#no-such-section)\n"
        "```\n[in code](docs/nowhere.md)\n```\n"
    )
    assert broken_links(text, ROOT, site) == [
        "docs/no-such-page.md",
        "docs/quota.md#no-such-section",
    ]
