"""`casebook build --publish` (publishconf.py, the real command in a child process) and
robots.txt: absolute feed, sitemap and robots URLs from CASEBOOK_SITEURL, no drafts, and a
public build without a usable address refused before anything is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import ROOT

pytestmark = pytest.mark.shared

SITEURL = "https://cases.example.org"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _build(content: Path, target: Path, siteurl: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CASEBOOK_SITEURL"}
    if siteurl is not None:
        env["CASEBOOK_SITEURL"] = siteurl
    return subprocess.run(
        [sys.executable, "-m", "casebook.app.cli", "build", "--content", str(content), "--output",
         str(target / "output"), "--index", str(target / "index"), "--publish"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def published(tmp_path_factory, seed_content) -> Path:
    target = tmp_path_factory.mktemp("published")
    # A trailing slash is what people type; Pelican's SITEURL has none.
    done = _build(seed_content, target, SITEURL + "/")
    assert done.returncode == 0, done.stderr
    return target / "output"


def _draft_slugs(content: Path) -> list[str]:
    return [p.stem for p in (content / "cases").glob("*.md") if "\nstatus: draft\n" in p.read_text(encoding="utf-8")]


def test_publish_build_has_absolute_feed_and_sitemap_urls(published):
    feed = etree.parse(str(published / "feeds" / "all.atom.xml"))
    links = [link.get("href") for link in feed.iter(f"{ATOM}link")]
    assert len(links) > 4 and all(link.startswith(SITEURL + "/") for link in links), links
    # Entry ids are tag: URIs minted from the address (tag:cases.example.org,2022-02-24:/cases/…/).
    ids = [i.text for i in feed.iter(f"{ATOM}id")]
    assert ids and all(i.startswith(("tag:cases.example.org,", SITEURL)) for i in ids), ids
    locs = [loc.text for loc in etree.parse(str(published / "sitemap.xml")).iter(f"{SITEMAP}loc")]
    assert len(locs) > 10 and all(loc.startswith(SITEURL + "/") for loc in locs), locs
    assert f"{SITEURL}/cases/" in " ".join(locs) and not any(loc.endswith(".txt") for loc in locs)
    page = next((published / "cases").glob("*/index.html")).read_text(encoding="utf-8")
    assert f'<link rel="canonical" href="{SITEURL}/cases/' in page


def test_publish_build_leaves_drafts_out(published, seed_content):
    drafts = _draft_slugs(seed_content)
    assert drafts, "the seeds hold a draft"
    assert not (published / "drafts").exists()
    for file in published.rglob("*"):
        if file.is_file() and file.suffix in (".html", ".xml", ".json", ".csv", ".txt"):
            text = file.read_text(encoding="utf-8")
            assert not any(slug in text for slug in drafts), file


def test_robots_txt_points_at_the_sitemap(published, built_site):
    lines = (published / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Disallow: /api/", "Disallow: /drafts/"} <= set(lines)
    assert f"Sitemap: {SITEURL}/sitemap.xml" in lines
    # A preview build has no address: its sitemap line is site-relative.
    preview = (built_site["output"] / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert "Disallow: /api/" in preview and "Sitemap: /sitemap.xml" in preview


@pytest.mark.parametrize("siteurl", [None, "", "cases.example.org", "ftp://cases.example.org",
                                     "javascript:alert(1)//", "https://"])
def test_publish_without_a_usable_address_is_refused(tmp_path, seed_content, siteurl):
    done = _build(seed_content, tmp_path, siteurl)
    assert done.returncode == 1
    assert "CASEBOOK_SITEURL" in done.stderr, done.stderr
    assert not (tmp_path / "output").exists() and not (tmp_path / "index").exists()
