"""`casebook check` reads names as editors write them: short names and aliases of banks,
regions and programmes are resolved to the canonical name, and `check --fix` rewrites them
(diff first), changing nothing else in the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from casebook.check import Alias, check_paths, site_metadata
from casebook.data import load_data
from casebook.fix import fixed_text, plan
from casebook.names import resolve_bank, resolve_region
from tests.conftest import ROOT

CASES = ROOT / "content" / "cases"
CHENGDU = CASES / "2023-11-07-tansuo-jinrong-funeng-shequ-zhili-wei.md"   # 成都农商银行, 四川省, 成都市


def _check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "casebook.app.cli", "check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)


def _case(tmp_path: Path, original: Path, replacements: list[tuple[str, str]]) -> tuple[Path, str]:
    """A copy of a real case file with some names written as an editor would."""
    text = original.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "cases" / original.name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="")
    return path, text


def _by_message(problems: list) -> dict[str, object]:
    return {p.message: p for p in problems}


def test_a_short_bank_name_is_named_not_unknown(tmp_path):
    path, _ = _case(tmp_path, CHENGDU, [("banks: [成都农商银行]", "banks: [农行, 成都农商行]")])
    problems = _by_message(check_paths([path], load_data()))
    short = problems["bank '农行' is a short name of 中国农业银行"]
    assert isinstance(short, Alias) and short.severity == "warning" and short.line == 7
    assert short.new == "中国农业银行" and short.index == 0
    assert problems["bank '成都农商行' is a short name of 成都农商银行"].index == 1
    assert not any("unknown bank" in message for message in problems)


def test_unknown_names_rank_aliases_before_spelling():
    data = load_data()
    # 农行 is inside the unknown name: the bank it is a short name of comes first, before the
    # rural banks spelled alike (顺德农商银行, ...).
    found = resolve_bank("农行网点", data)
    assert found.kind == "unknown" and found.candidates[0] == "中国农业银行"
    assert resolve_bank("中国农业银行", data).kind == "canonical"
    assert resolve_bank("成都农商银行", data).kind == "canonical"   # a family name from the gazetteer
    assert resolve_bank("中国建行", data).candidates[0] == "中国建设银行"


def test_regions_resolve_short_names_in_the_case_context(tmp_path):
    path, _ = _case(tmp_path, CHENGDU, [("province: 四川省", "province: 四川"), ("city: 成都市", "city: 成都"),
                                        ("district: 天府新区", "district: 天府")])
    problems = _by_message(check_paths([path], load_data()))
    assert problems["province '四川' is a short name of 四川省"].line == 8
    assert problems["city '成都' is a short name of 成都市"].line == 9
    assert problems["district '天府' is a short name of 天府新区"].line == 10


def test_an_ambiguous_short_name_lists_candidates_and_is_not_fixed(tmp_path):
    path, _ = _case(tmp_path, CHENGDU, [("province: 四川省", "province: 辽宁"), ("city: 成都市", "city: null"),
                                        ("district: 天府新区", "district: 朝阳")])
    problems = check_paths([path], load_data())
    # In 辽宁省 only one 朝阳 is a district: the case's province narrows the short name.
    narrowed = next(p for p in problems if p.message.startswith("district '朝阳'"))
    assert isinstance(narrowed, Alias) and narrowed.new == "朝阳县"
    data = load_data()
    anywhere = resolve_region("朝阳", "district", data)
    assert anywhere.kind == "ambiguous"
    assert {"朝阳区 (北京市)", "朝阳县 (辽宁省朝阳市)", "朝阳区 (吉林省长春市)"} <= set(anywhere.candidates)
    assert resolve_region("朝阳", "district", data, {"province": "北京市"}).canonical == "朝阳区"
    # No province: the short name stays a warning with its candidates, and --fix leaves it.
    path.write_text(path.read_text(encoding="utf-8").replace("province: 辽宁\n", ""), encoding="utf-8")
    problems = check_paths([path], load_data())
    ambiguous = next(p for p in problems if p.message.startswith("district '朝阳'"))
    assert not isinstance(ambiguous, Alias) and "3 places" in ambiguous.message
    assert plan(problems) == []


def test_programme_aliases_come_from_the_data_file(tmp_path):
    path, _ = _case(tmp_path, CHENGDU, [("programs: [微网格银政便民服务站, 微光卡]",
                                         "programs: [微网格银政便民服务站, 心家园公益服务站]")])
    problems = _by_message(check_paths([path], load_data()))
    assert problems["programme '心家园公益服务站' is an alias of 心家园"].new == "心家园"


def test_the_site_shows_canonical_names():
    data = load_data()
    meta = {"banks": ["农行", "中国农业银行"], "province": "四川", "city": "成都", "district": "朝阳",
            "programs": ["晋社区平台"]}
    shown = site_metadata(meta, data)
    assert shown["banks"] == ["中国农业银行"] and shown["programs"] == ["晋社区"]
    assert (shown["province"], shown["city"], shown["district"]) == ("四川省", "成都市", "朝阳")


def test_fix_shows_a_diff_and_applies_only_when_asked(tmp_path):
    original = CHENGDU.read_text(encoding="utf-8")
    path, edited = _case(tmp_path, CHENGDU, [("banks: [成都农商银行]", "banks: [成都农商行]"),
                                             ("province: 四川省", "province: 四川  # 编辑注：省名"),
                                             ("city: 成都市", "city: '成都'"),
                                             ("programs: [微网格银政便民服务站, 微光卡]", "programs:\n- 微网格银政便民服务站\n- 微光卡")])
    # Not a terminal and no --yes: the diff is shown, nothing is written.
    run = _check("--fix", str(path))
    assert run.returncode == 0, run.stderr
    assert "-banks: [成都农商行]\n" in run.stdout and "+banks: [成都农商银行]\n" in run.stdout
    assert "+province: 四川省  # 编辑注：省名\n" in run.stdout and "+city: '成都市'\n" in run.stdout
    assert "run with --yes to apply" in run.stderr
    assert path.read_text(encoding="utf-8") == edited
    run = _check("--fix", "--yes", str(path))
    assert run.returncode == 0 and "fixed 3 name(s) in 1 file(s)" in run.stderr
    fixed = path.read_text(encoding="utf-8")
    # Byte for byte: only the three values changed (the comment, the quotes and the block list stay).
    assert fixed == (original.replace("province: 四川省", "province: 四川省  # 编辑注：省名")
                     .replace("city: 成都市", "city: '成都市'")
                     .replace("programs: [微网格银政便民服务站, 微光卡]", "programs:\n- 微网格银政便民服务站\n- 微光卡"))
    # Idempotent: nothing left to fix, the file untouched.
    run = _check("--fix", "--yes", str(path))
    assert "nothing to fix" in run.stderr and path.read_text(encoding="utf-8") == fixed


def test_fix_keeps_line_endings_and_byte_order_mark(tmp_path):
    text = "\ufeff" + CHENGDU.read_text(encoding="utf-8").replace("province: 四川省", "province: 四川")
    path = tmp_path / "crlf.md"
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    fixes = plan(check_paths([path], load_data()))
    assert len(fixes) == 1
    fixes[0].apply()
    after = path.read_bytes()
    assert after == text.replace("\n", "\r\n").replace("province: 四川", "province: 四川省").encode("utf-8")


@pytest.mark.parametrize("body", [
    # Anchors and aliases are refused by the loader: check reports them, --fix does not touch the file.
    "title: x\nslug: a\ndate: 2024-01-02\ncategory: 网点进社区\nstatus: published\nbanks: &b [农行]\nvia: *b\n",
    # A block scalar is never rewritten.
    "title: x\nslug: a\ndate: 2024-01-02\ncategory: 网点进社区\nstatus: published\nprovince: |\n  四川\n",
])
def test_fix_refuses_what_it_cannot_rewrite_safely(tmp_path, body):
    path = tmp_path / "hostile.md"
    text = f"---\n{body}---\n\n正文。\n"
    path.write_text(text, encoding="utf-8")
    problems = check_paths([path], load_data())
    for file_fix in plan(problems):
        file_fix.apply()
    assert path.read_text(encoding="utf-8") == text


def test_fix_survives_odd_encodings(tmp_path):
    path = tmp_path / "gbk.md"
    path.write_bytes("---\ntitle: 测试\nbanks: [农行]\n---\n正文\n".encode("gbk"))
    run = _check("--fix", "--yes", str(path))
    assert run.returncode == 1 and "save it as UTF-8" in run.stdout and "Traceback" not in run.stderr
    assert "nothing to fix" in run.stderr


def test_fixed_text_rejects_a_moved_value():
    text = "---\nbanks: [工行]\n---\n\n正文\n"
    stale = Alias("x.md", 2, "", severity="warning", field="banks", index=0, old="农行", new="中国农业银行")
    assert fixed_text(text, [stale]) == text   # the value is no longer there: nothing changes
