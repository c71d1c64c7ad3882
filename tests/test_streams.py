"""A sample of a real news stream (../shared/streams/xwlb: CCTV 新闻联播 daily transcripts),
read where it lies: every story found, each with its own title, date and address, and only
the real case written.

The story counts are checked against an oracle that reads the raw files with a few regular
expressions of its own (one story per `###` section; one per bold item of a 快讯 round-up;
one per subject of a paired-profiles section), not with scraper/segment.py.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.conftest import SHARED

pytestmark = pytest.mark.shared

STREAM = SHARED / "streams" / "xwlb" / "news"
# Paired profiles (二十大代表风采, 2022-09-26 … 10-12), 快讯 round-ups in every year, days
# with headline-only sections (2024-09-04), days with one bank paragraph amid national
# statistics (2023-10-29) or bank lending figures (2023-03-20, 2024-03-13, 2024-12-04).
DAYS = ["20220926", "20220927", "20220929", "20220930", "20221001", "20221003", "20221004", "20221005",
        "20221012", "20230315", "20230320", "20230513", "20230619", "20231029", "20240218", "20240313",
        "20240416", "20240904", "20241204", "20250112", "20250610", "20250707", "20260109", "20260801",
        "20260822"]
LI_PENG = "李鹏：坚守初心 做百姓的金融好管家"
SECTION_RE = re.compile(r"(?m)^### (.+)$")
BOLD_ITEM_RE = re.compile(r"<p[^>]*><strong>([^<]{4,80})</strong>(?:<br\s*/?>)?</p>")
PROFILE_RE = re.compile(r"[\u4e00-\u9fff·]{2,6}：")


def _letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _oracle_count(text: str) -> int:
    parts = SECTION_RE.split(text)
    count = 0
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        items = [html.unescape(t).replace("\xa0", " ").strip() for t in BOLD_ITEM_RE.findall(body) if "消息" not in t]
        if "快讯" in heading and items:
            count += len(items)
            continue
        paired = [t for t in items if PROFILE_RE.match(t) and _letters(t) in _letters(heading)]
        lead = _letters(re.sub(r"<[^>]+>|央视网消息|新闻联播", "", body.split("<strong>" + items[0])[0])) if items else ""
        if len(paired) >= 2:
            count += len(paired)
        elif len(items) >= 2 and all(PROFILE_RE.match(t) for t in items) and len(lead) < 200:
            count += len(items) + (len(lead) >= 60)    # a short story, then its "Name：headline" items
        else:
            count += 1
    return count


@pytest.fixture(scope="module")
def sample() -> list[Path]:
    if not STREAM.exists():
        pytest.skip("../shared/streams is not beside the repository")
    return [STREAM / f"{day}.md" for day in DAYS]


@pytest.fixture(scope="module")
def ingested(sample, settings, tmp_path_factory):
    from scraper.ingest import ingest

    out = tmp_path_factory.mktemp("stream-cases")
    rows = ingest([str(p) for p in sample], settings, out_dir=out)
    return rows, out


def test_every_story_is_a_report_row(ingested, sample):
    rows, _ = ingested
    by_input = {str(p): 0 for p in sample}
    for row in rows:
        by_input[row.input] += 1
    expected = {str(p): _oracle_count(p.read_text(encoding="utf-8")) for p in sample}
    assert by_input == expected
    # The paired-profiles day and the round-ups really were split.
    assert expected[str(STREAM / "20221012.md")] == 13
    assert all(row.status != "failed" for row in rows)


def test_report_order_is_input_order(ingested, sample):
    rows, _ = ingested
    order = [row.input for row in rows]
    assert order == sorted(order, key=[str(p) for p in sample].index)


def test_only_the_real_case_is_written(ingested):
    rows, out = ingested
    written = [row for row in rows if row.status == "written"]
    assert [row.title for row in written] == [LI_PENG]
    assert "中国工商银行" in written[0].reason and "老年" in written[0].reason and "“" in written[0].reason
    files = list(out.glob("*.md"))
    assert len(files) == 1
    text = files[0].read_text(encoding="utf-8")
    assert f"title: {LI_PENG}\n" in text
    assert "date: 2022-10-12\n" in text
    assert "banks: [中国工商银行]" in text
    assert "province: 新疆维吾尔自治区" in text and "city: 乌鲁木齐市" in text
    assert "source_url: https://tv.cctv.com/2022/10/12/" in text
    for athlete in ("徐梦桃", "冬奥", "滑雪", "央视网消息"):
        assert athlete not in text


def test_rejections_say_what_was_missing(ingested):
    rows, _ = ingested
    rejected = [row for row in rows if row.status == "irrelevant"]
    assert all(row.reason for row in rejected)
    reasons = {row.title: row.reason for row in rejected}
    # One bank paragraph amid national statistics is quoted, and not taken for a case.
    assert "one passage" in reasons["金融服务实体经济质效不断增强"]
    assert "格当支行" in reasons["金融服务实体经济质效不断增强"]
    # The athlete's half of the paired section names no bank.
    assert reasons["徐梦桃：五星红旗 你是我的骄傲"].startswith("names no bank")


def test_titles_are_headlines_as_an_editor_writes_them(ingested):
    rows, _ = ingested
    titles = [row.title or "" for row in rows]
    assert all(titles)
    assert not [t for t in titles if t.startswith(("【", "[")) or "央视网消息" in t or t.endswith(("：", "；"))]
    assert "满怀信心迎盛会 真抓实干显担当" in titles            # 【喜迎二十大】 dropped
    assert "前8月我国服务贸易继续保持平稳增长" in titles          # an item of 国内联播快讯
    assert "刘桂珍：全身心服务村民的好支书" in titles              # the second of a pair
    day = [row.title for row in rows if row.input.endswith("20221012.md")]
    assert "国内联播快讯" not in day and len(day) == 13          # a round-up is its items


def test_every_story_has_its_own_date_and_address(sample, settings):
    from scraper.pipeline import extract_input

    for path in sample[8:11]:
        cases = extract_input(str(path), settings).cases
        day = f"{path.stem[:4]}-{path.stem[4:6]}-{path.stem[6:]}"
        assert cases and all(case.date == day for case in cases), path
        urls = [case.source_url for case in cases]
        assert all(url and url.startswith("https://tv.cctv.com/") and day.replace("-", "/") in url for url in urls)
        # One address per section; the items of a round-up share their section's page.
        assert len(set(urls)) == len(re.findall(r"\[查看原文\]\(", path.read_text(encoding="utf-8")))
        assert all(any(r.startswith("date:") for r in case.review) for case in cases)


def test_pool_and_sequential_runs_agree(sample, settings, tmp_path):
    from scraper.ingest import ingest

    days = [str(p) for p in sample[6:12]]
    pooled = ingest(days, settings, out_dir=tmp_path / "pooled", workers=2)
    alone = ingest(days, settings, out_dir=tmp_path / "alone", workers=0)
    strip = [(r.input, r.status, r.title, r.reason.replace(str(tmp_path), "")) for r in pooled]
    assert strip == [(r.input, r.status, r.title, r.reason.replace(str(tmp_path), "")) for r in alone]
    assert [p.name for p in sorted((tmp_path / "pooled").glob("*.md"))] == \
        [p.name for p in sorted((tmp_path / "alone").glob("*.md"))]


@pytest.mark.usefixtures("sample")   # skipped without ../shared/streams
def test_urls_in_the_parent_files_in_the_pool_one_report_in_order(settings, tmp_path):
    import http.server
    import threading

    from scraper.ingest import ingest

    day = (STREAM / "20221012.md").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/xwlb/20221012.md":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/markdown; charset=utf-8")
            self.send_header("Content-Length", str(len(day)))
            self.end_headers()
            self.wfile.write(day)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        fetch_settings = settings.with_overrides(fetch_timeout=2, fetch_retries=0, fetch_host_interval=0,
                                                 archive_dir=tmp_path / "archive", fetch_allow_private=True)
        inputs = [str(STREAM / "20230315.md"), f"{base}/xwlb/20221012.md", f"{base}/missing",
                  str(STREAM / "20240904.md")]
        rows = ingest(inputs, fetch_settings, out_dir=tmp_path / "cases", workers=2)
    finally:
        httpd.shutdown()
    order = list(dict.fromkeys(row.input for row in rows))
    assert order == inputs
    by_input = {item: [r for r in rows if r.input == item] for item in inputs}
    assert len(by_input[inputs[1]]) == 13
    assert [r.title for r in rows if r.status == "written"] == [LI_PENG]
    assert [r.status for r in by_input[inputs[2]]] == ["failed"] and "404" in by_input[inputs[2]][0].reason


def test_a_worker_killed_mid_batch_costs_at_most_one_input(sample, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from tests.conftest import ROOT

    report = tmp_path / "report.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "casebook.app.cli", "ingest", *map(str, sample), "--out",
                                str(tmp_path / "cases"), "--report", str(report), "--quiet"], cwd=ROOT,
                               env={**os.environ, "CASEBOOK_INGEST_WORKERS": "2"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        workers = psutil.Process(process.pid).children()
        time.sleep(0.01)
    assert workers, "the pool never started"
    workers[0].send_signal(signal.SIGKILL)
    process.wait(timeout=300)
    rows = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    failed = [row for row in rows if row["status"] == "failed"]
    assert len(failed) <= 1 and all("process reading this input died" in row["reason"] for row in failed)
    assert process.returncode == (1 if failed else 0)
    expected = sum(_oracle_count(p.read_text(encoding="utf-8")) for p in sample)
    failed_stories = sum(_oracle_count(Path(row["input"]).read_text(encoding="utf-8")) for row in failed)
    assert len(rows) - len(failed) == expected - failed_stories
    assert list(dict.fromkeys(row["input"] for row in rows)) == [str(p) for p in sample]
    assert [row["title"] for row in rows if row["status"] == "written"] == [LI_PENG] or failed
