"""`casebook check`: every problem as file:line with a hint."""

from __future__ import annotations

import subprocess
import sys

from casebook.check import check_paths
from casebook.data import load_data
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
    assert [p for p in check_paths([tmp_path], load_data()) if p.severity == "error"] == []


def test_missing_date_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "nodate.md"
    path.write_text(GOOD.replace("date: 2024-01-02\n", ""), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "casebook.app.cli", "check", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"{path}:1: missing required field `date`" in run.stdout


def test_bad_values_get_hints(tmp_path):
    text = (GOOD.replace("category: 网点进社区", "category: 网点进小区").replace("date: 2024-01-02", "date: 2024-13-45")
            .replace("province: 四川省", "province: 四川"))
    (tmp_path / "bad.md").write_text(text, encoding="utf-8")
    problems = {p.message: p for p in check_paths([tmp_path], load_data())}
    category = problems["unknown category '网点进小区'"]
    assert category.line == 5 and "网点进社区" in category.hint
    assert problems["`date` '2024-13-45' is not a date"].line == 4
    short = problems["province '四川' is a short name of 四川省"]
    assert short.severity == "warning" and short.line == 8


def test_duplicate_slugs_and_broken_yaml(tmp_path):
    (tmp_path / "a.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.md").write_text(GOOD, encoding="utf-8")
    (tmp_path / "c.md").write_text("---\ntitle: x\ndate: [\n---\n正文\n", encoding="utf-8")
    messages = [str(p) for p in check_paths([tmp_path], load_data())]
    assert any("duplicate slug" in m and "b.md:3" in m for m in messages)
    assert any("c.md:" in m and "not valid YAML" in m for m in messages)


def test_a_wrong_type_in_every_field_is_an_error_at_its_line(tmp_path):
    """Every field of scraper/data/case_fields.yaml, given a value of another shape, is an
    error at that field's line (and check never crashes on it)."""
    from casebook.check import rules_of

    full = GOOD.replace("status: published\n", "source: 某报\nsource_url: https://example.org/a\nvia: 某网\n"
                        "reposts: []\nauthors: [某]\nsummary: 摘要。\ncover: https://example.org/a.jpg\nimages: []\n"
                        "figures: []\nstatus: published\ndraft_reasons: []\nreview: []\nprograms: []\ndistrict: 成华区\n")
    wrong = {"text": "[1, 2]", "slug": "[x]", "status": "{a: 1}", "url": "[x]", "date": "{a: 1}", "text_list": "{a: 1}",
             "url_list": "[[x]]", "reposts": "[5]"}
    for name, rule in rules_of(load_data()).fields.items():
        lines = full.split("\n")
        number = next(i for i, line in enumerate(lines) if line.startswith(f"{name}:"))
        lines[number] = f"{name}: {wrong[rule['type']]}"
        path = tmp_path / f"{name}.md"
        path.write_text("\n".join(lines), encoding="utf-8")
        errors = [p for p in check_paths([path], load_data()) if p.severity == "error"]
        assert any(p.line == number + 1 and f"`{name}`" in p.message for p in errors), (name, errors)


def test_reserved_keys_and_symlinks_are_errors(tmp_path):
    cases = tmp_path / "content" / "cases"
    cases.mkdir(parents=True)
    (cases / "a.md").write_text(GOOD.replace("status: published", "status: draft\nsave_as: index.html\n"
                                             "Template: page\noverride_url: x"), encoding="utf-8")
    outside = tmp_path / "secret.md"
    outside.write_text(GOOD.replace("ce-shi", "secret"), encoding="utf-8")
    (cases / "b.md").symlink_to(outside)
    problems = [str(p) for p in check_paths([cases], load_data()) if p.severity == "error"]
    for key, line in (("save_as", 11), ("Template", 12), ("override_url", 13)):
        assert any(f"a.md:{line}: field `{key}` is not allowed" in p for p in problems), (key, problems)
    assert any("b.md:1: symbolic link to" in p and "outside" in p for p in problems)
    assert not any("secret" in p and "slug" in p for p in problems)   # the target is not read
