"""Ingest as an editor uses it: statuses, idempotence, edited cases, bad inputs, hostile markup."""

from __future__ import annotations

import json
import subprocess
import sys

from casebook.data import load_data
from scraper.ingest import ingest
from tests.conftest import ROOT, SEEDS_RAW


def _statuses(rows):
    return sorted(r.status for r in rows)


def test_seed_batch_statuses_and_split(cases_dir, settings):
    rows = ingest([str(SEEDS_RAW)], settings, out_dir=cases_dir)
    assert _statuses(rows) == ["irrelevant"] + ["written"] * 5
    irrelevant = next(r for r in rows if r.status == "irrelevant")
    assert irrelevant.title.startswith("幸福美好生活十大工程") and irrelevant.output is None
    assert "bank" in irrelevant.reason


def test_rerun_is_byte_identical_and_unchanged(cases_dir, settings):
    ingest([str(SEEDS_RAW)], settings, out_dir=cases_dir)
    before = {p.name: p.read_bytes() for p in cases_dir.iterdir()}
    rows = ingest([str(SEEDS_RAW)], settings, out_dir=cases_dir)
    assert _statuses(rows) == ["irrelevant"] + ["unchanged"] * 5
    assert {p.name: p.read_bytes() for p in cases_dir.iterdir()} == before


def test_edited_case_is_never_overwritten(cases_dir, settings):
    ingest([str(SEEDS_RAW / "002_94ab2356a5567251.txt")], settings, out_dir=cases_dir)
    case = next(cases_dir.glob("*.md"))
    edited = case.read_text(encoding="utf-8").replace("category: 网格化金融服务", "category: 金融知识宣传")
    case.write_text(edited, encoding="utf-8")
    rows = ingest([str(SEEDS_RAW / "002_94ab2356a5567251.txt")], settings, out_dir=cases_dir)
    assert [r.status for r in rows] == ["kept-edited"]
    assert case.read_text(encoding="utf-8") == edited
    fresh = case.with_name(case.name + ".fresh")
    assert fresh.exists() and "category: 网格化金融服务" in fresh.read_text(encoding="utf-8")
    # The slug never changes.
    assert f"slug: {case.stem}" in fresh.read_text(encoding="utf-8")


def test_bad_inputs_fail_with_reason_and_batch_goes_on(tmp_path, cases_dir, settings):
    raw = tmp_path / "inputs"
    raw.mkdir()
    (raw / "a_empty.html").write_bytes(b"")
    (raw / "b_binary.bin").write_bytes(bytes(range(256)) * 40)
    (raw / "c_bad_front_matter.md").write_text("---\ntitle: [unclosed\n---\n<p>正文</p>\n", encoding="utf-8")
    (raw / "d_seed.txt").write_bytes((SEEDS_RAW / "003_e311d38c8422fe87.txt").read_bytes())
    rows = ingest([str(raw)], settings, out_dir=cases_dir)
    by_input = {r.input.rsplit("/", 1)[-1]: r for r in rows}
    assert by_input["a_empty.html"].status == "failed" and "empty" in by_input["a_empty.html"].reason
    assert by_input["b_binary.bin"].status == "failed" and "binary" in by_input["b_binary.bin"].reason
    bad = by_input["c_bad_front_matter.md"]
    assert bad.status == "failed" and "c_bad_front_matter.md:2" in bad.reason and "YAML" in bad.reason
    assert by_input["d_seed.txt"].status == "written"
    assert [p.name for p in cases_dir.glob(".*.tmp")] == []


def test_cli_ingest_report_and_exit_code(tmp_path):
    raw = tmp_path / "inputs"
    raw.mkdir()
    (raw / "empty.txt").write_bytes(b"  \n")
    (raw / "seed.txt").write_bytes((SEEDS_RAW / "000_93da2ac478faec21.txt").read_bytes())
    report = tmp_path / "report.jsonl"
    run = subprocess.run([sys.executable, "-m", "casebook.app.cli", "ingest", str(raw), "--out", str(tmp_path / "out"),
                          "--report", str(report), "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    assert {line["status"] for line in lines} == {"failed", "written"}
    assert set(lines[0]) == {"input", "status", "output", "title", "reason", "date_evidence"}
    written = next(line for line in lines if line["status"] == "written")
    assert written["date_evidence"] == "container: front matter date"
    assert "written" in run.stdout and "failed" in run.stdout


def test_hostile_markup_never_reaches_a_case(tmp_path, cases_dir, settings):
    body = (SEEDS_RAW / "000_93da2ac478faec21.txt").read_text(encoding="utf-8")
    hostile = body.replace("<p>近年来，", '<p><script>alert(1)</script><img src="x.jpg" onerror="alert(2)">'
                           '<a href="javascript:alert(3)">点我</a><iframe src="//evil"></iframe>近年来，', 1)
    path = tmp_path / "hostile.md"
    path.write_text(hostile, encoding="utf-8")
    rows = ingest([str(path)], settings, out_dir=cases_dir)
    assert rows[0].status == "written"
    text = next(cases_dir.glob("*.md")).read_text(encoding="utf-8")
    for bad in ("<script", "alert(", "onerror", "javascript:", "<iframe"):
        assert bad not in text


def test_repost_becomes_one_case_listing_both_sources(tmp_path, cases_dir, settings):
    original = SEEDS_RAW / "003_e311d38c8422fe87.txt"
    text = original.read_text(encoding="utf-8")
    repost = tmp_path / "repost.html"
    body = "".join(f"<p>{line.strip()}</p>" for line in text.split("来源:中国经济网", 1)[1].split("郑重声明")[0]
                   .splitlines() if line.strip())
    repost.write_text(f"<html><head><title>“心家园”站点突破1000家_新浪财经_新浪网</title>"
                      f'<link rel="canonical" href="https://finance.sina.com.cn/x/2025-01-09/doc-1.shtml"></head>'
                      f"<body><div id='artibody'>{body}</div></body></html>", encoding="utf-8")
    rows = ingest([str(original), str(repost)], settings, out_dir=cases_dir)
    assert [r.status for r in rows] == ["written", "duplicate"]
    files = list(cases_dir.glob("*.md"))
    assert len(files) == 1
    assert "新浪" in files[0].read_text(encoding="utf-8")
    # Two different stories are never merged.
    rows = ingest([str(SEEDS_RAW / "002_94ab2356a5567251.txt")], settings, out_dir=cases_dir)
    assert [r.status for r in rows] == ["written"]


def test_report_without_any_date_becomes_a_valid_draft(tmp_path, cases_dir, settings):
    from casebook.check import check_paths

    body = (SEEDS_RAW / "003_e311d38c8422fe87.txt").read_text(encoding="utf-8")
    undated = tmp_path / "undated.txt"
    undated.write_text(body.replace("发表于 2025-01-09 09:40:29 股吧网页版\n", "").replace("2024年末", "去年末")
                       .replace("2022年", "前年"), encoding="utf-8")
    rows = ingest([str(undated)], settings, out_dir=cases_dir)
    assert [r.status for r in rows] == ["written"]
    text = next(cases_dir.glob("*.md")).read_text(encoding="utf-8")
    # No invented date (neither the file's day nor today's): a draft without one, and check
    # says what to do about it.
    assert "status: draft" in text and "\ndate: null\n" in text
    assert "date: no publication date found" in text
    problems = check_paths([cases_dir], load_data())
    assert [p for p in problems if p.severity == "error"] == []
    assert any("draft without `date`" in str(p) and "status: published" in str(p) for p in problems)
    # Publishing it without a date is an error that says how to fix it.
    case_file = next(cases_dir.glob("*.md"))
    case_file.write_text(text.replace("status: draft", "status: published"), encoding="utf-8")
    errors = [p for p in check_paths([cases_dir], load_data()) if p.severity == "error"]
    assert len(errors) == 1 and "missing required field `date`" in str(errors[0])
    assert "status: draft" in str(errors[0])


def test_digest_page_is_split_and_each_item_judged(tmp_path, settings):
    from scraper.pipeline import extract_input

    seed_003 = (SEEDS_RAW / "003_e311d38c8422fe87.txt").read_text(encoding="utf-8")
    bank_story = seed_003.split("来源:中国经济网", 1)[1].split("郑重声明")[0].strip()
    other = (SEEDS_RAW / "001_bc03fb7bacceab0f.txt").read_text(encoding="utf-8").split("实地走访", 1)[1]
    digest = tmp_path / "digest.txt"
    digest.write_text("本周社区新闻TOP3\n\nTOP1 “心家园”站点突破1000家\n\n" + bank_story +
                      "\n\nTOP2 成华区组织市民观察员实地走访\n\n" + other.split("旧貌换新")[0] +
                      "\n\nTOP3 十大工程旧貌换新\n\n" + other.split("旧貌换新", 1)[1], encoding="utf-8")
    cases = extract_input(str(digest), settings).cases
    assert [c.title for c in cases] == ["“心家园”站点突破1000家", "成华区组织市民观察员实地走访", "十大工程旧貌换新"]
    assert [c.relevant for c in cases] == [True, False, False]
    assert cases[0].banks == ["上海农商银行"]


def test_numbered_sections_of_one_article_are_not_split(settings):
    from scraper.pipeline import extract_input

    cases = extract_input(str(SEEDS_RAW / "004_4aa6be127fddf60f.txt"), settings).cases
    assert len(cases) == 1


def test_a_slug_does_not_depend_on_the_search_dictionary_being_loaded():
    """The search analyser teaches the process-wide segmenter the domain's words; a slug made
    after that (same process: a test worker, a long-running tool) must be the one made before."""
    from scraper.slugs import make_slug
    from search.analysis import ensure_dictionary

    titles = ["中国建设银行山西省分行进社区新金融", "桂东农商银行当好金融网格员", "探索金融赋能社区治理“微网实格”"]
    before = [make_slug(t, "2021-10-01") for t in titles]
    ensure_dictionary()
    assert [make_slug(t, "2021-10-01") for t in titles] == before
