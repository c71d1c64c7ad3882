"""Regression tests for issue 12's ingest examples, with real hostile inputs through the real
ingest path (and the `casebook ingest` command): no input stops a batch, each bad input gets a
precise `failed` reason, and nothing unsafe reaches a case."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from casebook.model import parse
from casebook.safety import INVISIBLE_RE
from scraper.guard import time_budget
from scraper.ingest import ingest
from scraper.pipeline import extract_input
from tests.conftest import ROOT, SEEDS_RAW

GOOD = SEEDS_RAW / "002_94ab2356a5567251.txt"
ARTICLE = ("<p>2022年2月24日，成都农商银行走进成华区白莲池社区，为社区居民开展金融知识宣传活动，现场讲解防范电信诈骗知识，"
           "帮助老年人使用手机银行，受到社区居民欢迎。</p><p>活动中，银行工作人员向居民发放宣传资料，并设置咨询台解答居民关于"
           "存款、理财和社保卡的问题。</p><p>社区负责人表示，银行网点进社区让居民在家门口就能享受便捷的金融服务。</p>")
ALIAS_BOMB = """---
title: 银行进社区
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
cover: *h
---
成都农商银行在社区开展金融知识宣传活动，为居民提供便捷的金融服务。
"""


def _page(body: str, head: str = "") -> str:
    return (f'<html><head><meta charset="utf-8"><title>成都农商银行金融服务进社区</title>{head}</head>'
            f"<body><h1>成都农商银行金融服务进社区</h1><p>来源：新华网</p><div class=\"article\">{body}</div>"
            "</body></html>")


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "casebook.app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.shared
def test_deep_markup_fails_its_input_and_the_batch_goes_on(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(_page("<i>" * 300 + ARTICLE + "</i>" * 300), encoding="utf-8")
    report = tmp_path / "report.jsonl"
    result = _cli("ingest", str(bad), str(GOOD), "--out", str(tmp_path / "cases"), "--report", str(report))
    assert result.returncode == 1, result.stderr   # one input failed
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert [(Path(r["input"]).name, r["status"]) for r in rows] == [("bad.html", "failed"), (GOOD.name, "written")]
    assert "nested more than 250 elements deep" in rows[0]["reason"] and "bad.html" in rows[0]["reason"]


def test_deep_markup_in_a_post_is_flattened(settings, tmp_path):
    post = tmp_path / "deep.md"
    post.write_text("---\ntitle: 成都农商银行金融服务进社区\n---\n" + "<i>" * 3000 + ARTICLE + "</i>" * 3000,
                    encoding="utf-8")
    extraction = extract_input(str(post), settings)
    assert extraction.error is None, extraction.error
    assert "白莲池社区" in extraction.cases[0].body and "<i>" not in extraction.cases[0].body


def test_a_recursion_error_becomes_the_inputs_failed_row(settings, tmp_path):
    # Markup under the flattening depth, with the interpreter's recursion limit lowered so the
    # real markdownify runs out of stack: the guard, not the depth rule, is what is tested.
    post = tmp_path / "nested.md"
    post.write_text("---\ntitle: 银行进社区\n---\n" + "<b>" * 60 + ARTICLE + "</b>" * 60, encoding="utf-8")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(_stack()) + 120)
    try:
        extraction = extract_input(str(post), settings)
    finally:
        sys.setrecursionlimit(limit)
    assert extraction.cases == []
    assert "nested too deeply" in str(extraction.error) and str(post) in str(extraction.error)


def _stack() -> list:
    import inspect

    return inspect.stack(0)


def test_alias_bomb_post_fails_fast_with_a_clear_message(settings, tmp_path):
    bomb = tmp_path / "bomb.md"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    assert len(ALIAS_BOMB.encode()) < 700
    started = time.monotonic()
    rows = ingest([str(bomb), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert time.monotonic() - started < 20
    assert [r.status for r in rows] == ["failed", "written"]
    assert f"{bomb}:3:" in rows[0].reason and "anchors and aliases" in rows[0].reason


def test_an_input_over_its_time_budget_fails_and_the_batch_goes_on(settings, tmp_path):
    heavy = tmp_path / "heavy.md"
    heavy.write_text("---\ntitle: 银行进社区\n---\n" + "<p>" * 60_000, encoding="utf-8")
    budget = settings.with_overrides(input_time_budget=1.5)
    started = time.monotonic()
    # In this process (workers=0): a fresh pool worker would spend part of the good input's
    # budget on its first imports; the budget inside pool workers is tested below.
    rows = ingest([str(heavy), str(GOOD)], budget, out_dir=tmp_path / "cases", workers=0)
    assert time.monotonic() - started < 20
    assert [r.status for r in rows] == ["failed", "written"], rows
    assert "1.5-second budget" in rows[0].reason and str(heavy) in rows[0].reason


def _extract_in_worker(item: str, budget: float) -> str:
    from casebook.settings import load

    extraction = extract_input(item, load(input_time_budget=budget))
    return str(extraction.error) if extraction.error else "ok"


def test_the_budget_holds_in_a_worker_process(tmp_path):
    heavy = tmp_path / "heavy.md"
    heavy.write_text("---\ntitle: 银行进社区\n---\n" + "<p>" * 60_000, encoding="utf-8")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1) as pool:
        started = time.monotonic()
        reason = pool.submit(_extract_in_worker, str(heavy), 0.3).result(timeout=60)
        assert time.monotonic() - started < 15
        assert "budget" in reason
        assert pool.submit(_extract_in_worker, str(GOOD), 60).result(timeout=60) == "ok"


def test_an_outer_timer_survives_a_budget():
    import signal

    fired = []
    previous = signal.signal(signal.SIGALRM, lambda *_: fired.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with time_budget(5):
            pass
        time.sleep(1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert fired == [1]


def test_100000_brackets_do_not_hang_ingest(settings, tmp_path):
    dump = tmp_path / "brackets.txt"
    dump.write_text("成都农商银行社区服务\n" + "[" * 100_000 + "\n", encoding="utf-8")
    started = time.monotonic()
    rows = ingest([str(dump), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert time.monotonic() - started < 30
    assert rows[-1].status == "written"


def test_javascript_og_url_never_becomes_source_url(settings, tmp_path):
    hostile = _page(ARTICLE.replace("</p><p>活动中", '<a href="javascript:alert(4)">详情</a></p><p>活动中')
                    + '<p><img src="javascript:alert(5)"><img src="data:image/png;base64,AAAA">'
                    '<img src="http://img.example.cn/a.jpg"></p>',
                    head='<meta property="og:url" content="javascript:alert(document.domain)//">'
                         '<link rel="canonical" href="javascript:alert(2)//">')
    hostile = hostile.replace("<h1>成都农商银行金融服务进社区</h1>", "<h1>成都农商银行\u202e金融服务\u2066进社区\u200b</h1>")
    page = tmp_path / "js.html"
    page.write_text(hostile, encoding="utf-8")
    rows = ingest([str(page)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["written"], rows
    text = Path(rows[0].output).read_text(encoding="utf-8")
    case = parse(text)
    assert case.source_url is None and case.source == "新华网"
    assert case.cover == "http://img.example.cn/a.jpg" and case.images == ["http://img.example.cn/a.jpg"]
    assert "javascript" not in text.lower() and "data:image" not in text
    assert not INVISIBLE_RE.search(text)
    assert case.title == "成都农商银行金融服务进社区"


def test_post_fields_are_cleaned_at_ingest(settings, tmp_path):
    post = tmp_path / "post.md"
    post.write_text("---\ntitle: \"成都农商银行\\u202e进社区<script>alert(1)</script>\"\n"
                    "cover: 'javascript:alert(1)'\nauthor: \"张三\\u200b\"\n---\n"
                    "成都农商银行在白莲池社区开展金融知识宣传活动，为居民提供便捷的金融服务，帮助老年人使用手机银行。"
                    "[详情](javascript:alert(1)) ![图](JaVaScRiPt:alert(2))\n\n来源：新华网\n", encoding="utf-8")
    extraction = extract_input(str(post), settings)
    assert extraction.error is None, extraction.error
    case = extraction.cases[0]
    assert case.title == "成都农商银行进社区alert(1)"   # bidi override and markup gone, the text kept
    assert case.cover is None
    assert case.body.endswith("[详情](#(1)) ![图](#(2))")


def test_devices_and_pipes_are_refused_not_read(settings, tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    rows = ingest(["/dev/zero", str(fifo), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["failed", "failed", "written"]
    assert all("not a regular file" in r.reason for r in rows[:2])


@pytest.mark.parametrize("field", ["title: [1, 2]", "categories: 5", "author: {x: y}", "cover: {a: 1}",
                                   "date: [x]", "tags: 5", "title: 12", "headimg: [javascript:x]"])
def test_post_front_matter_of_any_type_is_read(settings, tmp_path, field):
    post = tmp_path / "typed.md"
    post.write_text(f"---\n{field}\n---\n成都农商银行在白莲池社区开展金融知识宣传活动，为居民提供便捷的金融服务。\n",
                    encoding="utf-8")
    extraction = extract_input(str(post), settings)
    assert extraction.error is None, extraction.error
    case = extraction.cases[0]
    assert isinstance(case.title, str) and "[" not in case.title and case.cover is None


def test_a_budget_never_outlives_its_block():
    # Budgets that run out just as their blocks end, or during the timer's own setup: afterwards
    # no timer may be left running (it would raise in whatever the batch does next).
    import signal

    from scraper.guard import BudgetExpired

    handler = signal.getsignal(signal.SIGALRM)
    for _ in range(2000):
        try:
            with time_budget(0.0005):
                started = time.perf_counter()
                while time.perf_counter() - started < 0.0005:
                    pass
        except BudgetExpired:
            pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == handler


def test_a_case_that_cannot_be_written_fails_alone(settings, tmp_path):
    """A store error (here: the case's file name is taken by a folder) is that story's failed
    row; the batch goes on to the next input."""
    from scraper.ingest import ingest as run

    out = tmp_path / "cases"
    first = run([str(GOOD)], settings, out_dir=out, workers=0)
    written = [r for r in first if r.status == "written"]
    assert written, first
    path = Path(written[0].output)
    path.unlink()
    path.mkdir()   # the same slug's file cannot be replaced now
    rows = run([str(GOOD)], settings, out_dir=out, workers=0)
    assert [r.status for r in rows] == ["failed"], rows
    assert "could not be written" in rows[0].reason and str(GOOD) in rows[0].reason


def test_every_kind_of_markdown_link_target_is_defused_at_ingest(settings, tmp_path):
    """Inline links, reference definitions (also quoted) and links in the summary: a case
    written by ingest holds no script target and passes `casebook check`."""
    post = tmp_path / "links.md"
    post.write_text("---\ntitle: 成都农商银行进社区\nsummary: '为居民服务 [x](JaVaScRiPt:alert(1)) [y](&#106;avascript:z)'\n"
                    "date: 2022-02-24\n---\n"
                    "成都农商银行在白莲池社区开展金融知识宣传活动，为居民提供便捷的金融服务，帮助老年人使用手机银行。"
                    "[详情][1] [更多][q] <javascript:alert(3)>\n\n[1]: javascript:alert(1)\n"
                    "> [q]: <vbscript:msgbox(2)> \"t\"\n\n   [ok]: https://example.cn/a\n\n来源：新华网\n",
                    encoding="utf-8")
    rows = ingest([str(post)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["written"], rows
    text = Path(rows[0].output).read_text(encoding="utf-8")
    assert "script" not in text.lower() and "&#106;" not in text, text
    assert "[1]: #" in text and "[ok]: https://example.cn/a" in text
    check = _cli("check", str(tmp_path / "cases"))
    assert "error" not in check.stdout.lower() and check.returncode == 0, check.stdout


@pytest.mark.parametrize("field, says", [("date: !!timestamp 2023-13-45", "!!timestamp"),
                                         ("cover: !!binary aGVsbG8=", "!!binary"),
                                         ("tags: !!set {a, b}", "!!set"),
                                         ("title: !!bool maybe", "cannot be read as !!bool"),
                                         ("title: !!float abc", "cannot be read as !!float"),
                                         ("title: a\ntitle: b", "given twice")])
def test_post_yaml_tags_and_duplicate_keys_fail_at_their_line(settings, tmp_path, field, says):
    """A value PyYAML's constructors cannot build raised a bare ValueError/KeyError ("please
    report this input as a bug"); it is a YAML error at its line like any other."""
    post = tmp_path / "tagged.md"
    post.write_text(f"---\nsource: 新华网\n{field}\n---\n成都农商银行在白莲池社区开展金融知识宣传活动，为居民服务。\n",
                    encoding="utf-8")
    rows = ingest([str(post), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["failed", "written"], rows
    line = 3 + field.count("\n")
    assert f"{post}:{line}:" in rows[0].reason and says in rows[0].reason, rows[0].reason
    assert "bug" not in rows[0].reason


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_or_without_bom_are_read(settings, tmp_path, codec):
    """A Windows "Unicode" save: UTF-16/32, with or without a BOM. Without one it was refused
    as binary; UTF-32-LE's BOM was read as UTF-16's."""
    page = tmp_path / "unicode.html"
    page.write_bytes(_page(ARTICLE.replace("成华区", "成华区𠀀")).encode(codec))
    extraction = extract_input(str(page), settings)
    assert extraction.error is None, extraction.error
    case = extraction.cases[0]
    assert case.title == "成都农商银行金融服务进社区" and "成华区𠀀白莲池社区" in case.body


@pytest.mark.parametrize("magic", [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n",
                                   b"PK\x03\x04\x14\x00", b"\x1f\x8b\x08\x00", b"\x89PNG\r\n\x1a\n",
                                   b"GIF89a\x01\x00", b"\xff\xd8\xff\xe0", b"{\\rtf1\\ansi "])
def test_a_document_of_another_format_named_html_is_refused_as_binary(settings, tmp_path, magic):
    """A PDF's head is ASCII: it was read as text and reported irrelevant, titled "%PDF-1.4"."""
    fake = tmp_path / "report.html"
    fake.write_bytes(magic + ARTICLE.encode("utf-8"))
    rows = ingest([str(fake), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["failed", "written"], rows
    assert "binary" in rows[0].reason and str(fake) in rows[0].reason


def test_a_story_larger_than_a_case_file_fails_and_the_batch_goes_on(settings, tmp_path):
    """A one-line text dump over the case-file limit (2,000,000 bytes) was written, then
    refused by `check` and the build: it is that input's failed row instead."""
    dump = tmp_path / "huge.txt"
    dump.write_text("成都农商银行走进白莲池社区，帮助老年人使用手机银行。" * 30_000 + "\n来源：新华网\n", encoding="utf-8")
    assert dump.stat().st_size > 2_000_000
    rows = ingest([str(dump), str(GOOD)], settings, out_dir=tmp_path / "cases")
    assert [r.status for r in rows] == ["failed", "written"], rows
    assert f"{dump}: the story is" in rows[0].reason and "at most 2,000,000" in rows[0].reason
    assert not list((tmp_path / "cases").glob("*chengdu*"))
