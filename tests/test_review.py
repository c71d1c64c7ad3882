"""The editors' review queue with real raw inputs: why each draft is a draft, `casebook
review` (list, --json, --accept, --reject), the rejection list ingest obeys, and the
preview site's /review/ pages, which a --publish build never has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from casebook.data import load_data
from casebook.errors import CasebookError
from casebook.model import parse
from scraper import review
from scraper.ingest import ingest
from scraper.store import MANIFEST
from tests.conftest import ROOT, SEEDS_RAW

UNDATED_INPUT = SEEDS_RAW / "004_4aa6be127fddf60f.txt"        # no headline, only a month: a draft
EDITED_INPUT = SEEDS_RAW / "002_94ab2356a5567251.txt"         # a published case an editor will edit
DRAFT = "2021-10-zhongguojiansheyinhang-shanxisheng-fenhang-jin-shequ-xin"
EDITED = "2021-12-30-guidong-nongshang-yinhang-danghao-jinrong-wangge"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "casebook.app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300)


@pytest.fixture()
def queue_dir(tmp_path, settings) -> Path:
    """Cases ingested from the seeds; one published case edited by hand, then ingested
    again: a draft and a fresh extraction wait for review."""
    cases = tmp_path / "content" / "cases"
    ingest([str(SEEDS_RAW)], settings, out_dir=cases)
    edited = cases / f"{EDITED}.md"
    edited.write_text(edited.read_text(encoding="utf-8").replace("category: 网格化金融服务", "category: 金融知识宣传")
                      + "\n编辑补充：<script>alert(1)</script> 一段说明。\n", encoding="utf-8")
    rows = ingest([str(EDITED_INPUT)], settings, out_dir=cases)
    assert [r.status for r in rows] == ["kept-edited"]
    return cases


def test_every_draft_says_why_with_codes_of_the_data_file(queue_dir):
    data = load_data()
    reasons = data.review["reasons"]
    drafts = [parse(p.read_text(encoding="utf-8")) for p in queue_dir.glob("*.md")]
    assert [c.slug for c in drafts if c.status == "draft"] == [DRAFT]
    for case in drafts:
        if case.status == "draft":
            assert case.draft_reasons == ["month-only", "no-headline"]
            assert all(reasons[code]["zh"] and reasons[code]["en"] for code in case.draft_reasons)
        else:
            assert case.draft_reasons == []
    # A published case's file has no draft_reasons line at all.
    assert "draft_reasons" not in (queue_dir / f"{EDITED}.md.fresh").read_text(encoding="utf-8")
    assert "draft_reasons: [month-only, no-headline]\n" in (queue_dir / f"{DRAFT}.md").read_text(encoding="utf-8")
    rules = yaml.safe_load((data.directory / "case_fields.yaml").read_text(encoding="utf-8"))
    assert rules["fields"]["draft_reasons"]["type"] == "text_list"


def test_review_lists_drafts_and_fresh_extractions(queue_dir):
    run = _cli("review", "--cases", str(queue_dir), "--json")
    assert run.returncode == 0, run.stderr
    items = {item["slug"]: item for item in json.loads(run.stdout)}
    draft, fresh = items[DRAFT], items[EDITED]
    assert draft["kind"] == "draft" and [r["code"] for r in draft["reasons"]] == ["month-only", "no-headline"]
    assert draft["input"].endswith(UNDATED_INPUT.name) and "中国建设银行" in draft["ingest_reason"]
    assert any(note.startswith("title:") for note in draft["notes"])
    assert fresh["kind"] == "fresh" and fresh["fresh_path"].endswith(f"{EDITED}.md.fresh")
    assert "桂东农商银行" in fresh["ingest_reason"]
    run = _cli("review", "--cases", str(queue_dir))
    assert f"draft {DRAFT}" in run.stdout and "why: month-only: only the month" in run.stdout
    assert f"fresh {EDITED}" in run.stdout and "1 draft(s), 1 fresh extraction(s)" in run.stderr


def test_accept_publishes_keeping_the_editors_bytes_and_builds(queue_dir, settings, tmp_path):
    path = queue_dir / f"{DRAFT}.md"
    # The editor confirms the day, and keeps a comment of their own.
    text = path.read_text(encoding="utf-8").replace("date: 2021-10\n", "date: 2021-10-20  # 据原文核实\n")
    path.write_text(text, encoding="utf-8")
    run = _cli("review", "--cases", str(queue_dir), "--accept", DRAFT)
    assert run.returncode == 0, run.stderr
    after = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = lines.index("status: draft\n")
    end = lines.index("---\n", start)
    assert after == "".join([*lines[:start], "status: published\n", *lines[end:]])
    assert "# 据原文核实" in after
    assert [item.slug for item in review.queue(queue_dir, load_data())] == [EDITED]   # the draft left the queue
    # A re-ingest reads the story as before: the accepted case stays, no fresh copy of it.
    rows = ingest([str(UNDATED_INPUT)], settings, out_dir=queue_dir)
    assert [r.status for r in rows] == ["kept-edited"] and "accepted by an editor" in rows[0].reason
    assert not path.with_name(path.name + ".fresh").exists() and path.read_text(encoding="utf-8") == after
    # Published: a public build has it among its cases.
    from casebook.app.build import build_site

    site = tmp_path / "site"
    result = build_site(queue_dir.parent, site / "out", site / "index", preview=False)
    assert (site / "out" / "cases" / DRAFT / "index.html").is_file() and result.drafts == 0


def test_accept_refuses_what_cannot_be_published(queue_dir):
    path = queue_dir / f"{DRAFT}.md"
    text = path.read_text(encoding="utf-8").replace("date: 2021-10\n", "date: null\n")
    path.write_text(text, encoding="utf-8")
    run = _cli("review", "--cases", str(queue_dir), "--accept", DRAFT)
    assert run.returncode == 1 and "cannot be published yet: missing required field `date`" in run.stderr
    assert path.read_text(encoding="utf-8") == text
    run = _cli("review", "--cases", str(queue_dir), "--accept", EDITED)
    assert run.returncode == 1 and "is not a draft" in run.stderr
    published = "2022-02-24-zhenghe-jinrong-ziyuan-ru-quan-rang"
    run = _cli("review", "--cases", str(queue_dir), "--reject", published)
    assert run.returncode == 1 and "is not in the review queue" in run.stderr
    for slug in ("../x", ".casebook-manifest", "no-such-case"):
        run = _cli("review", "--cases", str(queue_dir), "--reject", slug)
        assert run.returncode == 1 and "Traceback" not in run.stderr
    assert len(list(queue_dir.glob("*.md"))) == 5


def test_rejecting_a_fresh_extraction_keeps_the_editors_case(queue_dir):
    case = queue_dir / f"{EDITED}.md"
    edited = case.read_text(encoding="utf-8")
    run = _cli("review", "--cases", str(queue_dir), "--reject", EDITED)
    assert run.returncode == 0 and "the edited case stays" in run.stdout
    assert case.read_text(encoding="utf-8") == edited and not case.with_name(case.name + ".fresh").exists()
    assert not (queue_dir / load_data().review["rejected_file"]).exists()
    assert [item.slug for item in review.queue(queue_dir, load_data())] == [DRAFT]


def test_rejected_story_never_comes_back(queue_dir, settings, tmp_path):
    run = _cli("review", "--cases", str(queue_dir), "--reject", DRAFT)
    assert run.returncode == 0, run.stderr
    assert not (queue_dir / f"{DRAFT}.md").exists()
    rejected = queue_dir / load_data().review["rejected_file"]
    record = json.loads(rejected.read_text(encoding="utf-8"))
    manifest = json.loads((queue_dir / MANIFEST).read_text(encoding="utf-8"))
    assert record["slug"] == DRAFT and record["key"] == manifest["cases"][DRAFT]["key"]
    assert record["input"].endswith(UNDATED_INPUT.name) and len(record["text_sha256"]) == 64
    rows = ingest([str(SEEDS_RAW)], settings, out_dir=queue_dir)
    again = next(r for r in rows if r.input.endswith(UNDATED_INPUT.name))
    assert again.status == "rejected" and again.reason.startswith("rejected by an editor")
    assert again.output is None and not (queue_dir / f"{DRAFT}.md").exists()
    # Another copy of the same report (other bytes, so another key): its text is recognised.
    copy = tmp_path / "copy.txt"
    copy.write_bytes(UNDATED_INPUT.read_bytes() + b"\n\n")
    rows = ingest([str(copy)], settings, out_dir=queue_dir)
    assert [r.status for r in rows] == ["rejected"]
    run = _cli("ingest", "--out", str(queue_dir), "--quiet", "--report", str(tmp_path / "r.jsonl"), str(UNDATED_INPUT))
    assert run.returncode == 0 and "rejected by an editor" in (tmp_path / "r.jsonl").read_text(encoding="utf-8")


def test_a_broken_rejection_list_is_a_clear_error(queue_dir, settings):
    (queue_dir / load_data().review["rejected_file"]).write_text('{"slug": "a"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(CasebookError, match="line 2 of the rejection list is not a JSON object"):
        ingest([str(UNDATED_INPUT)], settings, out_dir=queue_dir)


def test_queue_skips_broken_and_linked_files(queue_dir, tmp_path):
    (queue_dir / "broken.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    (queue_dir / "gbk.md").write_bytes("---\nstatus: draft\n---\n正文".encode("gbk"))
    outside = tmp_path / "outside.md"
    outside.write_text("---\ntitle: x\nstatus: draft\n---\n正文\n", encoding="utf-8")
    (queue_dir / "link.md").symlink_to(outside)
    assert [item.slug for item in review.queue(queue_dir, load_data())] == [DRAFT, EDITED]


def _html(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in folder.rglob("*.html")}


def test_preview_has_the_review_pages_and_a_public_build_has_none(queue_dir, tmp_path):
    from casebook.app.build import build_site

    site = tmp_path / "site"
    build_site(queue_dir.parent, site / "preview", site / "index", preview=True)
    pages = _html(site / "preview")
    queue_page = pages["review/index.html"]
    assert "<h1>待审核</h1>" in queue_page and 'name="robots" content="noindex"' in queue_page
    assert f'href="/drafts/{DRAFT}/"' in queue_page and "只知道发布月份" in queue_page
    assert f'href="/review/{EDITED}/"' in queue_page
    assert f"drafts/{DRAFT}/index.html" in pages
    diff = pages[f"review/{EDITED}/index.html"]
    assert '<table class="diff"' in diff and ("diff_chg" in diff or "diff_add" in diff)
    assert "金融知识宣传" in diff and "网格化金融服务" in diff
    # The editor's text is shown, escaped; the page holds no script and no inline style.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in diff and "<script>alert" not in diff
    assert "<script" not in diff and "style=" not in diff and "nowrap" not in diff
    assert 'href="/review/"' in pages["index.html"]      # the preview's navigation links it
    sitemap = (site / "preview" / "sitemap.xml").read_text(encoding="utf-8")
    assert "/review/" not in sitemap
    # A public build (`casebook build --publish`): no page, no link, no sitemap entry.
    build_site(queue_dir.parent, site / "public", site / "index-public", preview=False)
    public = _html(site / "public")
    assert not (site / "public" / "review").exists() and not (site / "public" / "drafts").exists()
    assert not [name for name, text in public.items() if "/review/" in text or "待审核" in text]
    assert "/review/" not in (site / "public" / "sitemap.xml").read_text(encoding="utf-8")
    rows = json.loads((site / "public" / "data" / "cases.json").read_text(encoding="utf-8"))
    assert rows and not [row for row in rows if "draft_reasons" in row or row["status"] != "published"]
    assert "draft_reasons" not in (site / "public" / "data" / "cases.csv").read_text(encoding="utf-8-sig")
    # `casebook build --publish` after `casebook build` (the same folders): the review pages go.
    build_site(queue_dir.parent, site / "preview", site / "index", preview=False)
    assert not (site / "preview" / "review").exists() and not (site / "preview" / "drafts").exists()


def test_check_knows_the_draft_reason_codes(tmp_path):
    from casebook.check import check_paths, site_metadata

    text = (ROOT / "content" / "cases" / f"{EDITED}.md").read_text(encoding="utf-8")
    path = tmp_path / "a.md"
    path.write_text(text.replace("status: published\n", "status: published\ndraft_reasons: [undated, undatd]\n"),
                    encoding="utf-8")
    problems = {p.message: p for p in check_paths([path], load_data())}
    assert problems["a published case keeps `draft_reasons` (the site leaves them out)"].severity == "warning"
    unknown = problems["unknown draft reason 'undatd'"]
    assert "undated" in unknown.hint and unknown.severity == "warning"
    assert "draft_reasons" not in site_metadata({"status": "published", "draft_reasons": ["undated"]}, load_data())
    assert site_metadata({"status": "draft", "draft_reasons": ["undated"]}, load_data())["draft_reasons"] == ["undated"]


def test_a_feed_date_updates_the_draft_reasons():
    """An undated page whose feed item gives its day is no longer undated (scraper/feeds.py);
    a headline it lacks still keeps it a draft."""
    from casebook.model import Case
    from scraper.feeds import FeedHint, apply_hint
    from scraper.normalize import draft_reasons

    case = Case(title="x", draft_reasons=draft_reasons(title_derived=False, date=None), status="draft")
    assert case.draft_reasons == ["undated"]
    apply_hint(case, FeedHint(date="2024-03-05"), date_kind="feed")
    assert (case.status, case.draft_reasons, case.date) == ("published", [], "2024-03-05")
    case = Case(title="x", draft_reasons=["undated", "no-headline"], status="draft")
    apply_hint(case, FeedHint(date="2024-03"), date_kind="feed")
    assert (case.status, case.draft_reasons) == ("draft", ["month-only", "no-headline"])


def test_the_diff_is_bounded_and_escaped(tmp_path):
    """A fresh extraction that differs everywhere (thousands of lines, very long lines) gives
    a bounded table in bounded time; difflib.HtmlDiff took 10 s for 500 such lines."""
    import time

    edited, fresh = tmp_path / "a.md", tmp_path / "b.md"
    edited.write_text("\n".join(f"第{i}行 <b>编辑</b> & 说明" for i in range(20000)), encoding="utf-8")
    fresh.write_text("\n".join(f"抓取{i * 7}号 文本" for i in range(20000)) + "\n" + "长" * 300000, encoding="utf-8")
    item = review.ReviewItem(slug="x", kind="fresh", path=str(edited), title="", date="", source_url="",
                             fresh_path=str(fresh))
    started = time.perf_counter()
    table = review.side_by_side(item)
    assert time.perf_counter() - started < 20
    assert table.count("<tr>") <= review.DIFF_LIMITS["max_rows"] + 3 and "行差异未列出" in table
    assert "&lt;b&gt;编辑&lt;/b&gt; &amp; 说明" in table and "<b>" not in table
    same = review.side_by_side(review.ReviewItem(slug="x", kind="fresh", path=str(edited), title="", date="",
                                                 source_url="", fresh_path=str(edited)))
    assert "两份文件内容相同" in same
