"""Hostile case files through `casebook check` and a real `casebook build` (issue 12, "Readers'
browsers" on the build side and "Case files"): each is a check error at its file:line, the
build skips it (or publishes it with the unsafe value left out) and never crashes, never
replaces a page the site owns, never publishes a file from outside content/; and no URL in
the whole built site, its feeds, JSON-LD, Open Graph, sitemap or datasets has a scheme
outside http(s)/mailto."""

from __future__ import annotations

import csv
import html
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree
from lxml import html as lxml_html

from casebook.check import check_paths
from casebook.data import load_data
from casebook.safety import FORMULA_START, INVISIBLE_RE
from tests.conftest import ROOT
from tests.hostile_cases import base_case, hostile_cases, line_of, outside_case, replace_fields
from tests.site_scan import feed_urls, html_urls, unsafe_urls

pytestmark = pytest.mark.shared
ATOM = "{http://www.w3.org/2005/Atom}"


def _hostile_content(root: Path, seed_content: Path) -> tuple[Path, list]:
    content = root / "content"
    shutil.copytree(seed_content, content)
    base = base_case(content)
    cases = hostile_cases(base)
    for case in cases:
        (content / "cases" / case.name).write_text(case.text, encoding="utf-8")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(outside_case(base), encoding="utf-8")
    (outside / "secret.jpg").write_bytes(b"OUTSIDE-SECRET-IMAGE")
    (content / "images").mkdir()
    (content / "images" / "ok.jpg").write_bytes(b"an image inside content")
    os.symlink(outside / "secret.md", content / "cases" / "leak.md")
    os.symlink(outside / "secret.jpg", content / "images" / "leak.jpg")
    os.symlink(outside, content / "images" / "leak-dir")
    os.symlink(content, content / "images" / "loop")       # a link back into content/: no endless walk
    # Files Pelican's own readers would publish raw (and obey their save_as), and script
    # files that would be served from the site's origin.
    (content / "cases" / "raw.html").write_text(
        '<html><head><title>RAW-HTML-CASE</title><meta name="save_as" content="index.html"></head>'
        '<body><script>alert(1)</script></body></html>', encoding="utf-8")
    (content / "cases" / "raw.mkd").write_text("Title: RAW-MKD-CASE\nDate: 2022-01-01\n\n<script>alert(1)</script>\n",
                                               encoding="utf-8")
    (content / "images" / "evil.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
                                                 encoding="utf-8")
    (content / "images" / "evil.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    os.mkfifo(content / "cases" / "fifo.md")   # reading it would wait forever
    os.mkfifo(content / "images" / "fifo.jpg")
    # Python-Markdown needs minutes for 100,000 "[" (or "\\[") in one paragraph.
    (content / "cases" / "brackets.md").write_text(
        base.replace("slug: 2022-02-24-", "slug: h-brackets-") + "\n" + "[" * 100_000 + "\n\n" + "\\[" * 50_000 + "\n",
        encoding="utf-8")
    (content / "cases" / "summary-brackets.md").write_text(
        replace_fields(base, {"slug": "h-summary-brackets", "summary": "'" + "[a " * 900 + "'"}),
        encoding="utf-8")
    static = base.replace("slug: 2022-02-24-", "slug: h-static-link-").replace(
        "\n---\n", "\n---\n![秘密]({static}/../outside/secret.jpg) ![图]({static}/images/ok.jpg)\n", 1)
    (content / "cases" / "static-link.md").write_text(static, encoding="utf-8")
    return content, cases


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, seed_content) -> dict:
    from casebook.app.build import build_site

    root = tmp_path_factory.mktemp("hostile")
    content, cases = _hostile_content(root, seed_content)
    started = time.monotonic()
    result = build_site(content, root / "output", root / "index", preview=True)
    return {"root": root, "content": content, "cases": cases, "output": root / "output", "result": result,
            "seconds": time.monotonic() - started}


def _output_files(output: Path) -> list[Path]:
    """The files the site publishes: not the build's cache folder (OUTPUT/.casebook; web
    servers deny dot paths)."""
    return [p for p in output.rglob("*") if p.is_file() and ".casebook" not in p.relative_to(output).parts]


# --- check ------------------------------------------------------------------------------------

def test_check_reports_every_hostile_case_at_its_line(hostile_site):
    problems = check_paths([hostile_site["content"] / "cases"], load_data())
    errors = [p for p in problems if p.severity == "error"]
    for case in hostile_site["cases"]:
        path = str(hostile_site["content"] / "cases" / case.name)
        line = line_of(case.text, case.field)
        mine = [p for p in errors if p.path == path]
        assert any(p.line == line and case.message in p.message for p in mine), (case.name, line, mine)
        assert all(p.hint for p in mine), mine
    links = {Path(p.path).name: p for p in errors if "symbolic link" in p.message}
    assert {"leak.md", "leak.jpg", "leak-dir"} <= set(links), links
    assert "loop" not in links   # it stays inside content/
    assert any(p.path.endswith("fifo.md") and p.message == "not a regular file" for p in errors)
    assert any(p.path.endswith("fifo.jpg") and p.message.startswith("not a regular file") for p in errors)
    strays = {Path(p.path).name: p for p in problems if "the site leaves this file out" in p.message}
    assert strays["evil.svg"].severity == strays["evil.html"].severity == "error"
    assert strays["raw.html"].severity == "warning" and "raw.mkd" in strays
    # The base case itself, and the seeds, raise nothing.
    assert not [p for p in errors if "/cases/2022-" in p.path or "/cases/2021-" in p.path]


def test_check_command_prints_file_line_and_exits_1(hostile_site):
    run = subprocess.run([sys.executable, "-m", "casebook.app.cli", "check", str(hostile_site["content"] / "cases")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    alias = hostile_site["content"] / "cases" / "title-alias.md"
    assert f"{alias}:2: front matter is not valid YAML: YAML anchors and aliases" in run.stdout
    assert "Traceback" not in run.stderr


def test_markup_the_renderer_cannot_afford_is_refused_in_linear_time(hostile_site):
    cases = hostile_site["content"] / "cases"
    started = time.monotonic()
    problems = {Path(p.path).name: p for p in check_paths([cases / "brackets.md", cases / "summary-brackets.md"], load_data())
                if p.severity == "error"}
    assert time.monotonic() - started < 10
    text = (cases / "brackets.md").read_text(encoding="utf-8")
    run_line = text[: text.index("[" * 100)].count("\n") + 1
    assert problems["brackets.md"].line == run_line and "Markdown syntax characters" in problems["brackets.md"].message
    assert problems["summary-brackets.md"].line == 17 and "'['" in problems["summary-brackets.md"].message
    failed = "\n".join(hostile_site["result"].failed)
    assert "brackets.md:" in failed and "summary-brackets.md:17:" in failed
    assert hostile_site["seconds"] < 120, hostile_site["seconds"]


def test_render_budget_interrupts_a_case_that_renders_too_long():
    from plugins.casebook_reader.reader import RenderTimeout, render_budget

    started = time.monotonic()
    with pytest.raises(RenderTimeout, match=r"longer than 0\.2 s") as caught, render_budget(0.2, "slow.md"):
        import markdown

        markdown.markdown("[a " * 3000)   # a real slow rendering: seconds without the budget
    assert time.monotonic() - started < 2
    assert str(caught.value).startswith("slow.md:1: rendering took longer than 0.2 s")


# --- build: skipped, never crashing, never replacing a page, never leaking ----------------------

def test_build_skips_each_broken_case_with_its_reason(hostile_site):
    failed = "\n".join(hostile_site["result"].failed)
    for case in hostile_site["cases"]:
        if not case.published:
            assert f"{case.name}:{line_of(case.text, case.field)}:" in failed, case.name
    assert "leak.md:1: symbolic link" in failed and "leak.jpg:1: symbolic link" in failed
    assert "fifo.md:1: not a regular file" in failed and "fifo.jpg:1: not a regular file" in failed
    dropped = "\n".join(hostile_site["result"].dropped)
    assert f"js-source.md:{line_of(hostile_site['cases'][0].text, 'source_url')}:" in dropped
    out = hostile_site["output"]
    published = {p.parent.name for p in (out / "cases").glob("*/index.html")}
    assert {"h-js-source", "h-summary"} <= published
    assert not {c.text.split("slug: ")[1].split("\n")[0] for c in hostile_site["cases"] if not c.published} & published


def test_no_page_the_site_owns_is_replaced(hostile_site):
    out = hostile_site["output"]
    home = lxml_html.parse(str(out / "index.html"))
    assert home.xpath("string(//h1)") == "社区金融案例库" and home.xpath("//section[@class='map']")
    search = (out / "search" / "index.html").read_text(encoding="utf-8")
    assert "h-url-override" not in search and "<form" in search
    assert "分类" in (out / "categories" / "index.html").read_text(encoding="utf-8")
    banks = lxml_html.parse(str(out / "banks" / "index.html"))
    assert banks.xpath("string(//h1)") == "按银行浏览"
    assert not (out / "banks" / "index.html").read_text(encoding="utf-8").count("!!!")


def test_nothing_from_outside_content_is_published(hostile_site):
    out = hostile_site["output"]
    for path in _output_files(out):
        data = path.read_bytes()
        assert b"OUTSIDE-SECRET" not in data, path
    assert (out / "images" / "ok.jpg").exists()
    assert not (out / "images" / "leak.jpg").exists() and not (out / "images" / "leak-dir").exists()
    assert not (out / "images" / "evil.svg").exists() and not (out / "images" / "evil.html").exists()
    for path in _output_files(out):
        assert b"RAW-HTML-CASE" not in path.read_bytes() and b"RAW-MKD-CASE" not in path.read_bytes(), path
    assert (out / "cases" / "h-static-link-zhenghe-jinrong-ziyuan-ru-quan-rang" / "index.html").exists()


def test_publish_build_keeps_the_home_page_from_a_draft_with_save_as(tmp_path, seed_content):
    from casebook.app.build import build_site
    from casebook.errors import CasebookError

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    draft = next(c for c in hostile_cases(base_case(content)) if c.name == "draft-save-as.md")
    (content / "cases" / draft.name).write_text(draft.text, encoding="utf-8")
    result = build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    assert any("draft-save-as.md" in f and "save_as" in f for f in result.failed)
    home = lxml_html.parse(str(tmp_path / "out" / "index.html"))
    assert home.xpath("string(//h1)") == "社区金融案例库"
    with pytest.raises(CasebookError, match="broken"):
        build_site(content, tmp_path / "out2", tmp_path / "index2", preview=False, strict=True)


def test_two_cases_with_one_slug_do_not_stop_the_build(tmp_path, seed_content):
    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    base = base_case(content)
    (content / "cases" / "zz-copy.md").write_text(base.replace("成都农商银行", "成都农商银行", 1) + "\n复制。\n",
                                                  encoding="utf-8")
    result = build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    assert result.articles == 4
    assert any("zz-copy.md:1:" in f and "cases/2022-02-24-" in f for f in result.failed), result.failed


# --- the output rule ------------------------------------------------------------------------

def test_no_url_outside_the_allow_list_anywhere_in_the_site(hostile_site):
    assert unsafe_urls(hostile_site["output"]) == []


def test_no_live_script_scheme_or_bidi_in_any_output_file(hostile_site):
    for path in _output_files(hostile_site["output"]):
        if path.suffix not in (".html", ".xml", ".json", ".csv"):
            continue
        text = html.unescape(html.unescape(path.read_text(encoding="utf-8")))
        lowered = text.lower().replace("\t", "").replace(" ", "")
        for needle in ("javascript:", "vbscript:", "data:text/html", "onerror=", "<script>alert"):
            assert needle not in lowered, (path, needle)
        assert not INVISIBLE_RE.search(text.replace("\ufeff", "", 1 if path.suffix == ".csv" else 0)), path


def test_case_page_leaves_out_unsafe_source_cover_and_images(hostile_site):
    page = hostile_site["output"] / "cases" / "h-js-source" / "index.html"
    tree = lxml_html.parse(str(page))
    facts = tree.xpath("//aside[@class='facts']")[0]
    assert "某报" in facts.text_content() and not facts.xpath(".//dd/a[@rel='nofollow noopener']")
    assert not tree.xpath("//meta[@property='og:image']")
    data = json.loads(tree.xpath("//script[@type='application/ld+json']/text()")[0])
    assert data["isBasedOn"] == "" and data["image"] == ["https://example.org/ok.jpg"]
    assert data["headline"] == "=cmd|' /C calc'!A0 社区银行"
    body = tree.xpath("//div[@class='case-body']")[0]
    assert body.xpath(".//a[text()='静态']/@href") == ["#"] and body.xpath(".//a[text()='分类']/@href") == ["#"]


def test_feed_summary_is_sanitized_html(hostile_site):
    feed = etree.parse(str(hostile_site["output"] / "feeds" / "all.atom.xml"))
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.iter(f"{ATOM}entry")}
    entry = entries["=cmd|' /C calc'!A0 社区银行"]
    summary = entry.findtext(f"{ATOM}summary")
    assert "详[情]" in summary and "摘要文字" in summary
    assert "<script" not in summary and "alert(5)" not in summary
    assert list(html_urls(summary)) == []   # the link lost its href
    assert all("javascript" not in u for u in feed_urls((hostile_site["output"] / "feeds" / "all.atom.xml").read_bytes()))


def test_csv_cells_are_neutralised_and_json_keeps_the_text(hostile_site):
    out = hostile_site["output"]
    with (out / "data" / "cases.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = next(r for r in rows if r["slug"] == "h-js-source")
    assert row["title"] == "'=cmd|' /C calc'!A0 社区银行"
    assert row["source_url"] == "" and row["cover"] == ""
    assert json.loads(row["images"]) == ["https://example.org/ok.jpg"]
    for row in rows:
        for value in row.values():
            assert not value.startswith(FORMULA_START), value
    record = next(r for r in json.loads((out / "data" / "cases.json").read_text(encoding="utf-8"))
                  if r["slug"] == "h-js-source")
    assert record["title"] == "=cmd|' /C calc'!A0 社区银行" and record["source_url"] is None
    assert record["reposts"] == [{"source": "某报", "url": None}] and record["authors"] == ["记者甲"]


def test_the_scanner_finds_every_kind_of_url(tmp_path):
    """The property above can fail: a planted bad URL in each place is found."""
    site = tmp_path / "site"
    (site / "data").mkdir(parents=True)
    (site / "a.html").write_text(
        '<html><head><meta property="og:image" content="javascript:1"><meta property="og:url" content="data:x">'
        '<script type="application/ld+json">{"isBasedOn": "vbscript:2", "image": ["javascript:3"]}</script>'
        '<style>p{background:url(javascript:4)}</style></head><body><a href="javascript:5">x</a>'
        '<img src="data:image/svg+xml,6" srcset="https://ok/a.jpg 1x, javascript:7 2x" style="x:url(\'javascript:8\')">'
        '<form action="javascript:9"></form></body></html>', encoding="utf-8")
    (site / "f.xml").write_text(
        '<feed xmlns="http://www.w3.org/2005/Atom"><link href="javascript:10"/><entry>'
        '<summary type="html">&lt;a href="javascript:11"&gt;x&lt;/a&gt;</summary></entry></feed>', encoding="utf-8")
    (site / "data" / "cases.json").write_text(json.dumps([{"url": "/a/", "source_url": "javascript:12", "cover": None,
                                                           "images": ["javascript:13"],
                                                           "reposts": [{"url": "javascript:14"}]}]), encoding="utf-8")
    found = {url for _, url in unsafe_urls(site)}
    planted = {f"javascript:{n}" for n in (1, 3, 4, 5, 7, 8, 9, 10, 11, 13, 14)}
    assert found == planted | {"data:x", "vbscript:2", "data:image/svg+xml,6", "javascript:12"}


def test_a_case_read_under_older_rules_is_read_again(tmp_path, seed_content):
    """Pelican's reader cache is keyed by file time alone. A summary kept in it by an older
    reader (here: one that did not sanitize) is published while the rules are the same, and
    read again once they change."""
    import pickle

    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    cache = tmp_path / ".out.casebook-reads"   # beside the output folder, never in it (it holds drafts)
    readers = cache / "ArticlesGenerator-Readers"
    kept = pickle.loads(readers.read_bytes())
    for _stamp, (_body, metadata) in kept.values():
        metadata["summary"] = "<p>OLD-READER<script>alert(1)</script></p>"
    readers.write_bytes(pickle.dumps(kept))

    def feed() -> str:
        build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
        return (tmp_path / "out" / "feeds" / "all.atom.xml").read_text(encoding="utf-8")

    assert "OLD-READER" in feed()          # same rules: the cache is trusted (the test can fail)
    (cache / "read-rules").write_text("rules of an older version", encoding="utf-8")
    published = feed()
    assert "OLD-READER" not in published and "alert(1)" not in published
