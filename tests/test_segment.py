"""Segmentation of digest-shaped inputs on shapes other than the broadcast transcripts:
HTML pages with h2 sections, bold-line round-ups, numbered digests in text dumps,
summary lists, paired profiles; and articles with sub-headings that must stay whole."""

from __future__ import annotations

import pytest

from casebook.data import load_data
from scraper.pipeline import extract_document
from scraper.segment import editor_title, find_stories, html_outline, markdown_outline, rules
from scraper.sources import document_from_bytes

BANK_PARAGRAPH = ("近日，成都农商银行成华支行的客户经理走进白莲池街道一里塘社区，在社区党群服务中心设立便民服务点，"
                  "为行动不便的老年人上门办理社保卡激活和养老金查询，并讲解防范电信诈骗的知识。")
FILLER = ("国家统计局今天发布数据显示，前四个月全国规模以上工业增加值同比增长百分之六点二，"
          "装备制造业和高技术制造业增加值分别增长百分之七点五和百分之九点八，增速继续加快。")
OTHER = ("记者从交通运输部了解到，今年以来全国公路水路交通固定资产投资保持高位运行，"
         "一批重大工程项目加快推进，为稳增长提供了有力支撑，多个省份新开工项目数量同比增加。")


@pytest.fixture(scope="module")
def data():
    return load_data()


def _doc(text: str, name: str = "digest.html"):
    return document_from_bytes(text.encode("utf-8"), input=name)


def test_html_page_with_h2_sections_and_own_links(data):
    page = f"""<!doctype html><html><head><title>社区金融周报 第12期</title></head><body>
    <nav><ul><li><a href="/">首页</a></li><li><a href="/about">关于</a></li></ul></nav>
    <h1>社区金融周报 第12期</h1>
    <h2>成都农商银行把便民服务点开进社区</h2><p>{BANK_PARAGRAPH}</p><p>{FILLER}</p>
    <p><a href="https://news.example.cn/2024/05/06/a1.html">阅读原文</a></p>
    <h2>前四个月工业生产平稳增长</h2><p>{FILLER}</p><p>{OTHER}</p>
    <p><a href="https://news.example.cn/2024/05/07/a2.html">阅读原文</a></p>
    <h2>交通投资保持高位运行</h2><p>{OTHER}</p><p>{FILLER}</p>
    <p><a href="javascript:alert(1)">阅读原文</a></p>
    <footer><p>版权所有 © 2024</p></footer></body></html>"""
    cases = extract_document(_doc(page), data)
    assert [c.title for c in cases] == ["成都农商银行把便民服务点开进社区", "前四个月工业生产平稳增长", "交通投资保持高位运行"]
    assert [c.date for c in cases[:2]] == ["2024-05-06", "2024-05-07"]
    assert cases[0].source_url == "https://news.example.cn/2024/05/06/a1.html"
    assert cases[2].source_url is None and cases[2].date is None        # a javascript: link is no address
    assert [c.relevant for c in cases] == [True, False, False]
    assert "成都农商银行" in cases[0].reason and "“" in cases[0].reason
    assert "版权所有" not in cases[2].body and "首页" not in cases[0].body
    assert cases[0].banks == ["成都农商银行"]


def test_bold_line_round_up_dated_by_its_header(data):
    page = f"""<html><body><h1>每日简讯</h1><p>2024年6月3日 星期一</p>
    <p><strong>成都农商银行把便民服务点开进社区</strong></p><p>{BANK_PARAGRAPH}</p>
    <p><strong>前四个月工业生产平稳增长</strong></p><p>{FILLER}</p>
    <p><strong>交通投资保持高位运行</strong></p><p>{OTHER}</p></body></html>"""
    cases = extract_document(_doc(page), data)
    assert [c.title for c in cases] == ["成都农商银行把便民服务点开进社区", "前四个月工业生产平稳增长", "交通投资保持高位运行"]
    assert all(c.date == "2024-06-03" for c in cases)
    assert all(any("date of the document" in r for r in c.review) for c in cases)
    assert cases[0].relevant and not cases[1].relevant


def test_numbered_digest_in_a_text_dump(data):
    text = (f"本周金融要闻\n\n1. 成都农商银行把便民服务点开进社区\n\n{BANK_PARAGRAPH}\n\n"
            f"2. 前四个月工业生产平稳增长\n\n{FILLER}\n\n3. 交通投资保持高位运行\n\n{OTHER}\n")
    cases = extract_document(_doc(text, "digest.txt"), data)
    assert [c.title for c in cases] == ["成都农商银行把便民服务点开进社区", "前四个月工业生产平稳增长", "交通投资保持高位运行"]
    assert [c.relevant for c in cases] == [True, False, False]
    # Nothing dates these stories: no invented date, a draft with a note saying what to do.
    assert cases[0].date is None and cases[0].status == "draft"
    assert any(r.startswith("date: no publication date") for r in cases[0].review)


def test_article_with_sub_headings_stays_one_story(data):
    text = (f"# 成都农商银行探索社区金融服务新模式\n\n导语。{BANK_PARAGRAPH}\n\n## 一、背景\n\n{FILLER}\n\n"
            f"## 二、做法\n\n{BANK_PARAGRAPH}\n\n## 三、成效\n\n{OTHER}\n")
    assert find_stories(markdown_outline(text), "成都农商银行探索社区金融服务新模式", data) is None
    numbered = f"一篇文章\n\n1. 背景\n\n{FILLER}\n\n3. 成效\n\n{OTHER}\n\n2. 做法\n\n{BANK_PARAGRAPH}\n"
    assert find_stories(markdown_outline(numbered), "", data) is None    # not counting 1, 2, 3


def test_summary_list_is_not_a_story_and_datelines_are_dropped(data):
    text = (f"# 晚间要闻 (20240503)\n\n## 本期要点\n\n1. 成都农商银行把便民服务点开进社区；\n\n"
            f"2. 前四个月工业生产平稳增长；\n\n3. 交通投资保持高位运行。\n\n"
            f"### 成都农商银行把便民服务点开进社区\n\n新华社成都5月3日电 {BANK_PARAGRAPH}\n\n"
            f"### 前四个月工业生产平稳增长\n\n新华社北京5月3日电 {FILLER}\n\n"
            f"### 交通投资保持高位运行\n\n新华社北京5月3日电（记者 王某）{OTHER}\n")
    digest = find_stories(markdown_outline(text), "晚间要闻 (20240503)", data)
    assert digest is not None
    assert [s.title for s in digest.stories] == ["成都农商银行把便民服务点开进社区", "前四个月工业生产平稳增长",
                                                  "交通投资保持高位运行"]
    assert all(s.date == "2024-05-03" for s in digest.stories)
    assert digest.stories[0].blocks[0].startswith("近日") and digest.stories[0].source == "新华社"
    assert not any("本期要点" in b or "1." in b for s in digest.stories for b in s.blocks)


def test_paired_profiles_split_at_the_second_subject(data):
    text = ("# 人物周刊\n\n"
            "### 【身边榜样】张明：跑遍社区的金融服务员 王芳：把冰雪运动带进校园\n\n"
            "<p>本期我们来认识两位身边榜样：张明和王芳。</p>"
            "<p><strong>张明：跑遍社区的金融服务员</strong></p>"
            f"<p>{BANK_PARAGRAPH}</p><p>张明说，只要居民需要，他随叫随到。</p>"
            "<p><strong>王芳：把冰雪运动带进校园</strong></p>"
            f"<p>王芳是一名滑雪教练，十年来她走进三十多所学校，教孩子们滑雪。{OTHER}</p>\n\n"
            "[查看原文](https://tv.example.cn/2023/01/09/x.shtml)\n\n"
            f"### 前四个月工业生产平稳增长\n\n<p>{FILLER}</p>\n\n[查看原文](https://tv.example.cn/2023/01/09/y.shtml)\n\n"
            f"### 交通投资保持高位运行\n\n<p>{OTHER}</p>\n\n[查看原文](https://tv.example.cn/2023/01/09/z.shtml)\n")
    digest = find_stories(markdown_outline(text), "人物周刊", data)
    assert digest is not None
    titles = [s.title for s in digest.stories]
    assert titles[:2] == ["张明：跑遍社区的金融服务员", "王芳：把冰雪运动带进校园"] and len(titles) == 4
    first, second = digest.stories[0], digest.stories[1]
    assert not any("滑雪" in b or "王芳" in b for b in first.blocks)
    assert not any("张明" in b for b in second.blocks)
    assert first.url == second.url == "https://tv.example.cn/2023/01/09/x.shtml" and first.date == "2023-01-09"


def test_round_up_section_is_its_items():
    outline = html_outline("<p><strong>央视网消息</strong>（新闻联播）：</p>"
                           f"<p><strong>甲地新建三座桥梁</strong><br></p><p>{OTHER}</p>"
                           f"<p><strong>乙地粮食丰收</strong></p><p>{FILLER}</p>")
    assert [e.kind for e in outline] == ["para", "bold", "para", "bold", "para"]


def test_editor_titles(data):
    r = rules(data)
    assert editor_title("【央视快评】坚定信心 稳中求进", r) == "坚定信心 稳中求进"
    assert editor_title("【大美中国】西藏", r) == "大美中国：西藏"
    assert editor_title("央视网消息（新闻联播）：8月26日起实施新规", r) == "8月26日起实施新规"
    assert editor_title("3.二十大代表风采：", r) == "二十大代表风采"


def test_hostile_shapes_stay_linear(data):
    import time

    started = time.perf_counter()
    many = "# 快讯合集\n\n" + "".join(f"### 第{i}条消息标题\n\n{OTHER}\n\n[查看原文](https://x.example.cn/2024/01/02/{i}.html)\n\n"
                                     for i in range(3000))
    digest = find_stories(markdown_outline(many), "快讯合集", data)
    assert digest is not None and len(digest.stories) == 3000
    assert markdown_outline("# " + " " * 50_000 + "x\n")[0].text == "x"
    assert markdown_outline("# a" + " #" * 50_000 + "\n")[0].kind == "heading"
    nested = "<html><body>" + "<div>" * 5000 + f"<h2>甲</h2><p>{OTHER}</p>" + "</div>" * 5000 + "</body></html>"
    html_outline(nested)
    assert time.perf_counter() - started < 20


def test_plain_text_transcript_with_headline_lines(data):
    text = ("新闻联播 2019年3月5日\n\n"
            f"成都农商银行把便民服务点开进社区\n\n央视网消息（新闻联播）：{BANK_PARAGRAPH}\n\n"
            f"前四个月工业生产平稳增长\n\n央视网消息（新闻联播）：{FILLER}\n\n"
            f"交通投资保持高位运行\n\n央视网消息（新闻联播）：{OTHER}\n")
    cases = extract_document(_doc(text, "transcript.txt"), data)
    assert [c.title for c in cases] == ["成都农商银行把便民服务点开进社区", "前四个月工业生产平稳增长", "交通投资保持高位运行"]
    assert all(c.date == "2019-03-05" for c in cases)
    assert cases[0].body.startswith("近日") and cases[0].source == "央视网"
    assert [c.relevant for c in cases] == [True, False, False]


def test_countdown_digest(data):
    text = (f"本周社区金融TOP3\n\nTOP3 交通投资保持高位运行\n\n{OTHER}\n\nTOP2 前四个月工业生产平稳增长\n\n{FILLER}\n\n"
            f"TOP1 成都农商银行把便民服务点开进社区\n\n{BANK_PARAGRAPH}\n")
    cases = extract_document(_doc(text, "top3.txt"), data)
    assert [c.title for c in cases] == ["交通投资保持高位运行", "前四个月工业生产平稳增长", "成都农商银行把便民服务点开进社区"]
    assert [c.relevant for c in cases] == [False, False, True]


def test_bold_lines_nested_and_styled():
    outline = html_outline("<section><p><span><strong>甲地新建三座桥梁</strong></span></p>"
                           f"<p>{OTHER}</p><p><span style='font-weight: bold'>乙地粮食丰收</span><br></p>"
                           "<p><strong>小标题</strong>之后还有正文</p></section>")
    assert [e.kind for e in outline] == ["bold", "para", "bold", "para"]


def test_a_story_dated_by_its_own_date_line(data):
    text = (f"# 社区金融周报\n\n## 成都农商银行把便民服务点开进社区\n\n发布时间：2024-04-28 10:00\n\n{BANK_PARAGRAPH}\n\n"
            f"## 前四个月工业生产平稳增长\n\n{FILLER}\n\n## 交通投资保持高位运行\n\n{OTHER}\n")
    digest = find_stories(markdown_outline(text), "社区金融周报", data)
    assert digest is not None
    assert digest.stories[0].date.startswith("2024-04-28") and digest.stories[0].date_note is None
    assert digest.stories[1].date is None and digest.stories[2].date is None


def test_images_in_a_digest_story_are_safe_markdown(data):
    page = ("<html><body><h1>社区金融周报</h1>"
            f"<h2>甲地新建三座桥梁</h2><p>{OTHER}</p><p><img src='https://img.example.cn/a.jpg' alt='桥[1]'></p>"
            "<p><img src='javascript:alert(1)'><img src='https://img.example.cn/b(1).jpg'></p>"
            f"<h2>乙地粮食丰收</h2><p>{FILLER}</p><h2>丙地交通</h2><p>{OTHER}</p></body></html>")
    cases = extract_document(_doc(page), data)
    assert "![桥1](https://img.example.cn/a.jpg)" in cases[0].body
    assert "javascript" not in cases[0].body and "b(1)" not in cases[0].body


def test_a_side_column_after_the_last_story_is_not_its_text(data):
    page = ("<html><body><div class='main'><h1>社区金融周报</h1>"
            f"<h2>甲地新建三座桥梁</h2><p>{OTHER}</p><h2>乙地粮食丰收</h2><p>{FILLER}</p>"
            f"<h2>丙地交通</h2><p>{OTHER}</p></div>"
            "<div class='side'><h3>热门排行</h3><p>本站热门文章一览，每周更新一次，欢迎关注我们的公众号获取更多资讯。</p></div>"
            "</body></html>")
    cases = extract_document(_doc(page), data)
    assert [c.title for c in cases] == ["甲地新建三座桥梁", "乙地粮食丰收", "丙地交通"]
    assert "热门" not in cases[2].body and "公众号" not in cases[2].body


@pytest.mark.shared
def test_no_single_article_page_is_taken_for_a_digest(data):
    from scraper.pipeline import find_digest
    from tests.conftest import BENCH, FIXTURE_PAGES

    pages = sorted((BENCH / "html").glob("*.html")) + sorted(FIXTURE_PAGES.glob("*.html"))
    assert len(pages) >= 80
    taken = [p.name for p in pages if find_digest(document_from_bytes(p.read_bytes(), input=str(p)), data)]
    assert taken == []


def test_a_mirrored_digest_post_dates_its_stories_by_its_front_matter(data):
    text = (f"---\ntitle: 社区金融周报\ndate: 2023-06-30 09:00:00 +0800\n---\n\n"
            f"## 成都农商银行把便民服务点开进社区\n\n{BANK_PARAGRAPH}\n\n## 前四个月工业生产平稳增长\n\n{FILLER}\n\n"
            f"## 交通投资保持高位运行\n\n{OTHER}\n")
    cases = extract_document(_doc(text, "post.md"), data)
    assert [c.date for c in cases] == ["2023-06-30"] * 3
    assert all(any("date of the document" in r for r in c.review) for c in cases)
