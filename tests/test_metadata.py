"""The Chinese metadata no general extractor reads well: dates, sources, bylines, titles, encodings."""

from __future__ import annotations

import pytest

from casebook.data import load_data
from scraper.dates import find_full_date, find_labelled_date, infer_date, parse_date_value
from scraper.decode import decode
from scraper.metadata import clean_title, find_source, parse_byline, restore_quotes

DATA = load_data()


@pytest.mark.parametrize(("text", "expected"), [
    ("2021年12月30日", "2021-12-30"),
    ("发布时间：2021-12-30 15:26:20", "2021-12-30T15:26:20+08:00"),
    ("2021/12/30 09:05", "2021-12-30T09:05:00+08:00"),
    ("二〇二一年十二月三十日", "2021-12-30"),
    ("二〇二〇年一月五日", "2020-01-05"),
    ("2021-12-30 15:26:20 +0800", "2021-12-30T15:26:20+08:00"),
    ("2021年2月30日", None),               # no such day: never invented
])
def test_full_dates(text, expected):
    assert find_full_date(text) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("Thu, 24 Feb 2022 07:09:08 GMT", "2022-02-24T15:09:08+08:00"),   # RFC 2822, to China time
    ("1659274471", "2022-07-31T21:34:31+08:00"),                      # a Unix timestamp (WeChat ct)
    ("2022-02-24T07:09:08Z", "2022-02-24T15:09:08+08:00"),
    ("2022-02-24", "2022-02-24"),
])
def test_structured_dates(value, expected):
    assert parse_date_value(value) == expected


def test_labelled_date_beats_other_dates():
    lines = ["相关新闻 2019年1月1日", "发表于 2025-01-09 09:40:29 股吧网页版"]
    assert find_labelled_date(lines) == "2025-01-09T09:40:29+08:00"


def test_inferred_dates_are_marked():
    found = infer_date("11月7日，服务站在华阳街道启用。", "……2023年成华区……")
    assert found.iso == "2023-11-07" and "inferred" in found.note
    month = infer_date("截至2021年10月末，平台用户达到540万户。", "")
    assert month.iso == "2021-10" and "latest month" in month.note


@pytest.mark.parametrize(("line", "source", "authors"), [
    ("华西社区传媒记者 彭戎 街道供图", "华西社区传媒", ["彭戎"]),
    ("华西社区报记者 朱佳慧 摄影报道", "华西社区报", ["朱佳慧"]),
    ("记者 张三 李四", None, ["张三", "李四"]),
    ("（通讯员 王五）", None, ["王五"]),
])
def test_bylines(line, source, authors):
    byline = parse_byline(line)
    assert byline is not None and byline.source == source and byline.authors == authors


def test_sentences_are_not_bylines():
    assert parse_byline("记者了解到，该行已在社区设立服务站，方便居民办理业务。") is None


@pytest.mark.parametrize(("lines", "expected"), [
    (["（文章来源：红网）"], "红网"),
    (["来源:中国经济网"], "中国经济网"),
    (["2022-01-01 来源：新华网 作者：张三"], "新华网"),
    (["稿件来源：人民网-四川频道"], "人民网-四川频道"),
])
def test_sources(lines, expected):
    assert find_source(lines) == expected


def test_titles():
    assert restore_quotes("整合金融资源入_圈_ 让15分钟生活圈服务更_精彩_") == "整合金融资源入“圈” 让15分钟生活圈服务更“精彩”"
    assert clean_title("5月LPR按兵不动_经济_宏观频道首页_财经网 - CAIJING.COM.CN", DATA) == "5月LPR按兵不动"
    assert clean_title("银行网点进社区 服务居民“最后一公里”_财经频道_东方财富网", DATA) == "银行网点进社区 服务居民“最后一公里”"
    assert clean_title("关注青少年心理健康--健康·生活--人民网", DATA) == "关注青少年心理健康"


@pytest.mark.parametrize(("text", "codec", "label"), [
    ("銀行服務社區，適老化網點開業。", "big5", None),
    ("银行服务社区，适老化网点开业。", "gbk", "gb2312"),
    ("银行服务社区，适老化网点开业。", "gb18030", None),
])
def test_decoding(text, codec, label):
    page = f'<html><head><meta charset="{label or codec}"></head><body><p>{text}</p></body></html>'
    decoded, _ = decode(page.encode(codec), source="x")
    assert text in decoded


def test_meta_charset_that_lies():
    page = '<html><head><meta charset="gb2312"></head><body><p>银行服务社区</p></body></html>'
    decoded, codec = decode(page.encode("utf-8"), source="x")
    assert "银行服务社区" in decoded and codec == "utf-8"


def test_a_site_rule_that_is_not_a_css_selector_is_refused_at_start_up(tmp_path):
    import shutil

    from casebook.errors import SettingsError

    data_dir = tmp_path / "data"
    shutil.copytree(DATA.directory, data_dir)
    sites = data_dir / "sites.yaml"
    sites.write_text(sites.read_text(encoding="utf-8").replace("content: [.content, .article-content]",
                                                              'content: [".content >> p"]', 1), encoding="utf-8")
    with pytest.raises(SettingsError, match="not a CSS selector") as raised:
        load_data(data_dir)
    assert raised.value.source == str(sites)
