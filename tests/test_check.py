"""`casebook check`: every problem as file:line with a hint."""

from __future__ import annotations

import subprocess
import sys

from casebook.check import check_paths
from tests.conftest import ROOT

GOOD = """---
title: 测试案例
slug: 2024-01-02-ce-shi
date: 2024-01-02
category: 网点进社区
tags: [适老化]
banks: [成都农商银行]
province: 四川省
city: 成都市
status: published
---

正文。
"""


def test_good_case_passes(tmp_path):
    (tmp_path / "a.md").write_text(GOOD, encoding="utf-8")
    assert [p for p in check_paths([tmp_path]) if p.severity == "error"] == []


def test_missing_date_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "nodate.md"
    path.write_text(GOOD.replace("date: 2024-01-02\n", ""), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "casebook.cli", "check", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{path}:1: missing required field `date`" in run.stdout


def test_bad_values_get_hints(tmp_path):
    text = (GOOD.replace("category: 网点进社区", "category: 网点进小区").replace("date: 2024-01-02", "date: 2024-13-45")
            .replace("province: 四川省", "province: 四川"))
    (tmp_path / "bad.md").write_text(text, encoding="utf-8")
    problems = {p.message: p for p in check_paths([tmp_path])}
    category = problems["unknown category '网点进小区'"]
    assert category.line == 5 and "网点进社区" in category.hint
    assert problems["`date` '2024-13-45' is not a date"].line == 4
    assert "四川省" in problems["unknown province '四川'"].hint


def test_duplicate_slugs_and_broken_yaml(tmp_path):
    (tmp_path / "a.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "c.md").write_text("---\ntitle: x\ndate: [\n---\n正文\n", encoding="utf-8")
    messages = [str(p) for p in check_paths([tmp_path])]
    assert any("duplicate slug" in m and "b.md:3" in m for m in messages)
    assert any("c.md:" in m and "not valid YAML" in m for m in messages)
