"""The index text of a case: its Markdown body without the Markdown (search/mdtext.py), and
`IndexDoc.from_case`, the one way a document for the index is made."""

from __future__ import annotations

import time

import pytest

from casebook.model import Case, parse
from search.mdtext import markdown_text
from search.schema import IndexDoc
from tests.conftest import ROOT


@pytest.mark.parametrize(("markdown", "text"), [
    ("## 聚焦老年群体 ##\n\n正文", "聚焦老年群体\n正文"),
    ("# C# 入门", "C# 入门"),
    ("标题\n===\n\n小节\n---", "标题\n小节"),
    ("**粗体**、*斜体*、_强调_、~~删除~~和`代码`", "粗体、斜体、强调、删除和代码"),
    ("snake_case 与 中_文 保留下划线", "snake_case 与 中_文 保留下划线"),
    ("见[建行官网](https://www.ccb.com/)与[说明][1]\n\n[1]: https://example.com/a", "见建行官网与说明"),
    ("图：![网点照片](https://x/a.png)结束 ![引用图][p]", "图：结束"),
    ("<https://www.ccb.com/> 地址", "https://www.ccb.com/ 地址"),
    ("- 一\n* 二\n+ 三\n1. 四\n2) 五\n- [x] 六", "一\n二\n三\n四\n五\n六"),
    ("> 引用一句\n> > 再引用", "引用一句\n再引用"),
    ("| 年份 | 网点 |\n|---|:--:|\n| 2023 | 360 |", "年份   网点\n2023   360"),
    ("<p>段一</p><p>段二<br>段三</p><span>行内</span>", "段一\n段二\n段三\n行内"),
    ("前<script>alert('x')</script>后<style>p{}</style>尾<!-- 注释 -->完", "前后尾完"),
    ("&amp; &lt;b&gt; &#20013;", "& <b> 中"),
    ("\\*不是强调\\* 和 \\[不是链接\\](x)", "*不是强调* 和 [不是链接](x)"),
    ("```python\nprint('代码')\n```\n~~~\n块\n~~~", "print('代码')\n块"),
    ("***\n\n* * *\n\n___", ""),
])
def test_markdown_becomes_the_text_a_reader_sees(markdown, text):
    assert markdown_text(markdown) == text


@pytest.mark.parametrize("hostile", [
    "[" * 200_000, "](" * 100_000, "<" * 200_000, "<a" * 100_000, "<!--" * 50_000, "<script" * 30_000,
    "_" * 200_000, "a_" * 100_000, " " * 200_000 + "x", "#" * 200_000, "|" + " " * 200_000 + "-",
    ("| " * 50_000 + "\n") * 4, "\\" * 200_000, "&" * 200_000, "- " * 100_000, "> " * 100_000,
    ("  \t" * 50_000 + "#\n") * 2, "!" + "[" * 100_000 + "]" * 100_000,
])
def test_hostile_bodies_take_linear_time(hostile):
    started = time.perf_counter()
    markdown_text(hostile)
    assert time.perf_counter() - started < 2.0


def test_from_case_takes_every_field_from_the_parsed_case():
    path = ROOT / "content" / "cases" / "2025-01-09-xin-jiayuan-zhandian-tupo-1000-jia.md"
    case = parse(path.read_text(encoding="utf-8"), path=str(path))
    doc = IndexDoc.from_case(case, path="cases/" + path.name, url=f"/cases/{case.slug}/")
    assert (doc.slug, doc.path, doc.url, doc.title, doc.date) == (
        case.slug, "cases/" + path.name, f"/cases/{case.slug}/", case.title, "2025-01-09T09:40:29+08:00")
    assert (doc.category, doc.banks, doc.programs, doc.province, doc.city, doc.district) == (
        "社区公益服务站", ["上海农商银行"], ["心家园"], "上海市", "上海市", "")
    assert doc.tags == case.tags and doc.source == "中国经济网" and doc.via == "东方财富股吧"
    assert doc.summary == case.summary
    assert "聚焦老年群体,提供适老化社区服务" in doc.text.splitlines()   # a heading, without its ##
    assert "##" not in doc.text and "\n\n" not in doc.text
    assert IndexDoc.from_record(doc.to_record()) == doc


def test_from_case_of_a_sparse_case_has_empty_values_not_none():
    doc = IndexDoc.from_case(Case(slug="s", title="标题", date=None, tags=["a", None, ""], body="正文"),  # type: ignore[list-item]
                             path="cases/s.md", url="/cases/s/")
    assert (doc.date, doc.category, doc.province, doc.tags, doc.text) == ("", "", "", ["a"], "正文")
    with pytest.raises(ValueError, match="no field"):
        IndexDoc.from_record({**doc.to_record(), "html": "<p>"})
