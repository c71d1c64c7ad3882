"""Real news stories re-laid in the shapes of other streams: the held-out kind of input.

Every document here is built at test time from real text in ../shared (the 新闻联播 days in
streams/xwlb, the seed story, the zh-extraction articles), re-laid as another layout would
carry it: an HTML page with h2/h3/h4 per story, Markdown with ## or ###, bold-only headlines,
numbered items (1. and 一、), plain-text transcripts with 【标题】 or 标题： lines, ASCII
punctuation, a summary list at the top, at the end or missing, a 快讯 round-up of （1）（2）
items, weekly digests dated per item or per day, and headers dated in other years and forms
(2019年3月5日, 2019-03-05, 20190305). The real 李鹏 story and the seed are placed among the
other stories. Each shape must give one story per section, each with its headline as title,
the date of its own link or of the header or day heading (never the ingest day, never a year
from elsewhere), and only the two bank-community stories as cases. Single articles re-laid
as text dumps must stay one story.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Callable
from functools import lru_cache

import pytest

from casebook.data import load_data
from scraper.pipeline import extract_document
from scraper.sources import document_from_bytes
from tests.conftest import BENCH, SHARED

pytestmark = pytest.mark.shared

STREAM = SHARED / "streams" / "xwlb" / "news"
SEED = SHARED / "seeds" / "raw" / "000_93da2ac478faec21.txt"
LI_PENG = "李鹏：坚守初心 做百姓的金融好管家"
LI_PENG_URL = "https://tv.cctv.com/2022/10/12/VIDEpdLtPm6hoMnCj0Xw77Rx221012.shtml"
SEED_TITLE = "整合金融资源入“圈” 让15分钟生活圈服务更“精彩”"
CASES = {LI_PENG, SEED_TITLE}
INGEST_DAY = "2026-12-02"
SECTION_RE = re.compile(r"(?m)^### (.+)$")
CN_NUMERALS = "一二三四五六七八九十"

Section = tuple[str, list[str], str | None]     # headline, paragraphs, own link


# --- real text, read from ../shared -------------------------------------------------------


def _paras(fragment: str) -> list[str]:
    out = []
    for piece in re.split(r"</p>|<br\s*/?>|\n", fragment):
        text = html.unescape(re.sub(r"<[^>]+>", "", piece)).replace("\xa0", " ").strip()
        if text and not text.startswith(("[查看原文]", "(", "（更新时间戳")) and text != "---":
            out.append(text)
    return out


@lru_cache(maxsize=16)
def day_sections(day: str) -> tuple[Section, ...]:
    """A day's stories with one block of text each (sections holding items of their own are
    tests/test_streams.py's), the broadcast prefix dropped: another layout's plain stories."""
    parts = SECTION_RE.split((STREAM / f"{day}.md").read_text(encoding="utf-8"))
    out = []
    for head, body in zip(parts[1::2], parts[2::2], strict=True):
        if "快讯" in head or "<strong>" in body.split("</p>", 1)[-1]:
            continue
        link = re.search(r"\[查看原文\]\(([^)]+)\)", body)
        paras = _paras(body)
        if paras and paras[0] == "央视网消息（新闻联播）：":
            paras = paras[1:]
        if sum(map(len, paras)) >= 120:
            out.append((head.strip(), paras, link.group(1) if link else None))
    return tuple(out)


@lru_cache(maxsize=1)
def li_peng() -> Section:
    """The 李鹏 profile alone, cut from the section it shares with an athlete."""
    text = (STREAM / "20221012.md").read_text(encoding="utf-8")
    body = text.split(f"<strong>{LI_PENG}</strong></p>")[1].split("\n")[0]
    return LI_PENG, _paras(body), LI_PENG_URL


@lru_cache(maxsize=1)
def seed() -> Section:
    body = SEED.read_text(encoding="utf-8").split("---", 2)[2]
    return SEED_TITLE, [p for p in _paras(body) if len(p) > 30 and "记者" not in p], None


def roundup_items(day: str) -> list[tuple[str, list[str]]]:
    text = (STREAM / f"{day}.md").read_text(encoding="utf-8")
    parts = SECTION_RE.split(text)
    body = next(b for h, b in zip(parts[1::2], parts[2::2], strict=True) if "快讯" in h)
    chunks = re.split(r"<p[^>]*><strong>([^<]{4,80})</strong></p>", body)
    return [(html.unescape(h).strip(), _paras(b)) for h, b in zip(chunks[1::2], chunks[2::2], strict=True)
            if "消息" not in h]


def with_cases(day: str, n: int = 5) -> list[Section]:
    sections = list(day_sections(day)[:n])
    sections.insert(1, li_peng())
    sections.insert(3, seed())
    return sections


# --- layouts ------------------------------------------------------------------------------


def cn_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def date_as(d: dt.date, style: str) -> str:
    return {"cn": cn_date(d), "iso": d.isoformat(), "compact": d.strftime("%Y%m%d")}[style]


def html_page(sections: list[Section], d: dt.date, *, tag: str = "h2", links: bool = True,
              label: str = "阅读原文", title: str = "新闻联播", summary: str | None = None) -> str:
    listing = "<h2>本期要点</h2><ul>" + "".join(f"<li>{html.escape(h)}</li>" for h, _, _ in sections) + "</ul>"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{title} {cn_date(d)}</title></head><body>",
           "<nav><a href='/'>首页</a> <a href='/news'>新闻</a></nav>", f"<h1>{title}</h1>", f"<p>{cn_date(d)}</p>"]
    out += [listing] if summary == "top" else []
    out.append("<div class='content'>")
    for head, paras, link in sections:
        out.append(f"<{tag}>{html.escape(head)}</{tag}>")
        out += [f"<p>{html.escape(p)}</p>" for p in paras]
        out += [f"<p><a href='{link}'>{label}</a></p>"] if links and link else []
    out.append("</div>")
    out += [listing] if summary == "end" else []
    out.append("<footer>版权所有 © 央视网</footer></body></html>")
    return "\n".join(out)


def markdown(sections: list[Section], d: dt.date, *, marker: str = "##", date_style: str = "cn",
             title: str = "新闻联播", numbered: str | None = None, summary: str | None = None) -> str:
    listing = ["## 内容提要", "", *(f"{i}. {h}" for i, (h, _, _) in enumerate(sections, 1)), ""]
    out = [f"# {title} {date_as(d, date_style)}", ""] + (listing if summary == "top" else [])
    for i, (head, paras, _) in enumerate(sections, 1):
        if numbered:
            head = f"{CN_NUMERALS[i - 1]}、{head}" if numbered == "cn" else f"{i}. {head}"
        out += [f"{marker} {head}".strip(), ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out + (listing if summary == "end" else []))


def bold_lines(sections: list[Section], d: dt.date, *, title: str = "要闻速览") -> str:
    out = [f"# {title}", "", cn_date(d), ""]
    for head, paras, _ in sections:
        out += [f"**{head}**", ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out)


def asciify(text: str) -> str:
    for zh, en in (("，", ", "), ("。", ". "), ("：", ": "), ("；", "; ")):
        text = text.replace(zh, en)
    return text.strip()


def transcript(sections: list[Section], d: dt.date, *, style: str, date_style: str = "cn",
               title: str = "新闻联播文字版", ascii_marks: bool = False) -> str:
    """A plain-text transcript: no markup at all, headlines marked only by their line."""
    heads = {"bracket": lambda _i, h: f"【{h}】", "label": lambda _i, h: f"标题{':' if ascii_marks else '：'}{h}",
             "cn": lambda i, h: f"{CN_NUMERALS[i - 1]}、{h}",
             "num": lambda i, h: f"{i}. {h}" if ascii_marks else f"{i}．{h}"}[style]
    out = [title, date_as(d, date_style), ""]
    for i, (head, paras, _) in enumerate(sections, 1):
        out += [heads(i, head), ""] + [x for p in paras for x in ((asciify(p) if ascii_marks else p), "")]
    return "\n".join(out)


def transcript_with_summary(sections: list[Section], d: dt.date) -> str:
    """Numbered headlines listed first (本期节目主要内容), then the same numbers as stories."""
    out = [f"新闻联播 {cn_date(d)}", "本期节目主要内容：", *(f"{i}.{h}；" for i, (h, _, _) in enumerate(sections, 1)), ""]
    for i, (head, paras, _) in enumerate(sections, 1):
        out += [f"{i}. {head}", ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out)


def transcript_with_roundup(sections: list[Section], items: list[tuple[str, list[str]]], d: dt.date) -> str:
    out = [f"新闻联播 {cn_date(d)}", ""]
    for head, paras, _ in sections:
        out += [f"【{head}】", ""] + [x for p in paras for x in (p, "")]
    out += ["【国内联播快讯】", ""]
    for i, (head, paras) in enumerate(items, 1):
        out += [f"（{i}）{head}", ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out)


def weekly_dated_items(days: list[tuple[dt.date, list[Section]]]) -> str:
    out = ["# 一周要闻", ""]
    for d, sections in days:
        for head, paras, _ in sections:
            out += [f"## {head}", "", f"发布时间：{cn_date(d)}", ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out)


def weekly_by_day(days: list[tuple[dt.date, list[Section]]], *, title: str, day_line: Callable[[dt.date], str],
                  item: str = "###") -> str:
    out = [f"# {title}", ""]
    for d, sections in days:
        out += [day_line(d), ""]
        for head, paras, _ in sections:
            out += [f"{item} {head}", ""] + [x for p in paras for x in (p, "")]
    return "\n".join(out)


def plain_items(sections: list[Section], d: dt.date, head: Callable[[int, str], str], between: str = "") -> str:
    stories = [f"{head(i, h)}\n\n" + "\n\n".join(paras) for i, (h, paras, _) in enumerate(sections, 1)]
    return f"今日要闻\n{cn_date(d)}\n\n" + f"\n\n{between}\n\n".join(stories)


def setext(sections: list[Section], d: dt.date) -> str:
    stories = [f"{h}\n-----\n\n" + "\n\n".join(paras) for h, paras, _ in sections]
    return f"新闻联播 {cn_date(d)}\n=====\n\n" + "\n\n".join(stories)


def linked_items(sections: list[Section], d: dt.date) -> str:
    """Each story in its own block under a linked headline: no 阅读原文 line."""
    items = "".join(f"<div class='item'><h3><a href='{link or f'https://news.example.cn/{d:%Y/%m/%d}/a{i}.html'}'>"
                    f"{html.escape(h)}</a></h3>" + "".join(f"<p>{html.escape(p)}</p>" for p in paras) + "</div>"
                    for i, (h, paras, link) in enumerate(sections))
    return f"<html><head><title>要闻 {d.isoformat()}</title></head><body>{items}</body></html>"


# --- checks -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    if not STREAM.exists():
        pytest.skip("../shared/streams is not beside the repository")
    return load_data()


def editor(title: str) -> str:
    """The headline an editor keeps: a column tag in front of it dropped."""
    return re.sub(r"^【[^】]{1,30}】", "", title)


def expected(sections: list[Section], day: dt.date | None, *, own_links: bool) -> list[tuple[str, str | None, bool]]:
    rows = []
    for head, _, link in sections:
        date = day.isoformat() if day else None
        if own_links and link:
            date = "-".join(re.search(r"/(\d{4})/(\d\d)/(\d\d)/", link).groups())
        rows.append((editor(head), date, head in CASES))
    return rows


def ingest(text: str, name: str, data) -> list[tuple[str, str | None, bool]]:
    doc = document_from_bytes(text.encode("utf-8"), input=name, collected=INGEST_DAY)
    cases = extract_document(doc, data)
    assert all(str(c.date or "")[:10] != INGEST_DAY for c in cases), "a story took the day of ingest"
    return [(c.title, str(c.date)[:10] if c.date else None, bool(c.relevant)) for c in cases]


D_2024 = dt.date(2024, 4, 16)
D_2019 = dt.date(2019, 3, 5)
D_2018 = dt.date(2018, 7, 1)

# name -> (build(sections, date) -> text, file name, day stream, dated by own links)
SHAPES: dict[str, tuple[Callable[[list[Section], dt.date], str], str, str, dt.date, bool]] = {
    "html h2, 阅读原文 links": (lambda s, d: html_page(s, d), "day.html", "20240416", D_2024, True),
    "html h3, no links": (lambda s, d: html_page(s, d, tag="h3", links=False, title="要闻"), "day.html",
                          "20240416", D_2024, False),
    "html h4, summary at the end": (lambda s, d: html_page(s, d, tag="h4", links=False, summary="end"), "day.html",
                                    "20240416", D_2024, False),
    "html h2, summary on top, 查看原文": (lambda s, d: html_page(s, d, summary="top", label="查看原文"), "day.html",
                                      "20240416", D_2024, True),
    "md ##, 2019年3月5日": (lambda s, d: markdown(s, d), "day.md", "20230513", D_2019, False),
    "md ###, 2019-03-05": (lambda s, d: markdown(s, d, marker="###", date_style="iso"), "day.md", "20230513",
                           D_2019, False),
    "md ##, 20190305, other title": (lambda s, d: markdown(s, d, date_style="compact", title="晚间新闻"), "day.md",
                                     "20230513", D_2019, False),
    "md, summary on top": (lambda s, d: markdown(s, d, summary="top"), "day.md", "20230513", D_2019, False),
    "md, summary at the end": (lambda s, d: markdown(s, d, summary="end"), "day.md", "20230513", D_2019, False),
    "md, 一、二、 lines": (lambda s, d: markdown(s, d, marker="", numbered="cn"), "day.md", "20230513", D_2019, False),
    "md, 1. 2. lines": (lambda s, d: markdown(s, d, marker="", numbered="1"), "day.md", "20230513", D_2019, False),
    "md, ## 一、 headings": (lambda s, d: markdown(s, d, numbered="cn"), "day.md", "20230513", D_2019, False),
    "md, bold-only headlines": (lambda s, d: bold_lines(s, d), "day.md", "20230513", D_2019, False),
    "txt, 【标题】 lines": (lambda s, d: transcript(s, d, style="bracket"), "day.txt", "20250610", D_2018, False),
    "txt, 标题： lines": (lambda s, d: transcript(s, d, style="label"), "day.txt", "20250610", D_2018, False),
    "txt, 标题: lines, ASCII marks": (lambda s, d: transcript(s, d, style="label", ascii_marks=True, date_style="iso"),
                                     "day.txt", "20250610", D_2018, False),
    "txt, 一、 lines, 20180701": (lambda s, d: transcript(s, d, style="cn", date_style="compact"), "day.txt",
                                 "20250610", D_2018, False),
    "txt, 1． lines": (lambda s, d: transcript(s, d, style="num", title="今日要闻"), "day.txt", "20250610", D_2018,
                       False),
    "txt, 1. lines, ASCII marks": (lambda s, d: transcript(s, d, style="num", ascii_marks=True, title="Daily 要闻"),
                                   "day.txt", "20250610", D_2018, False),
    "txt, numbered summary then stories": (transcript_with_summary, "day.txt", "20230513", D_2018, False),
    "txt, ① ② items": (lambda s, d: plain_items(s, d, lambda i, h: f"{chr(ord('①') + i - 1)} {h}"), "day.txt",
                        "20240416", D_2024, False),
    "txt, 1) items": (lambda s, d: plain_items(s, d, lambda i, h: f"{i}) {h}"), "day.txt", "20240416", D_2024,
                      False),
    "txt, 〖标题〗 lines": (lambda s, d: plain_items(s, d, lambda _i, h: f"〖{h}〗"), "day.txt", "20240416", D_2024,
                          False),
    "txt, ---- between stories": (lambda s, d: plain_items(s, d, lambda _i, h: h, between="--------"), "day.txt",
                                  "20240416", D_2024, False),
    "md, setext headings": (setext, "day.md", "20240416", D_2024, False),
    "html, linked h3 in item blocks": (linked_items, "day.html", "20240416", D_2024, True),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_day_in_another_layout(shape, data):
    build, name, day, date, own_links = SHAPES[shape]
    sections = with_cases(day)
    assert len(sections) >= 6
    got = ingest(build(sections, date), name, data)
    assert got == expected(sections, date, own_links=own_links)


def test_a_round_up_of_numbered_items_in_a_transcript(data):
    sections = [*day_sections("20240416")[:3], li_peng()]
    items = roundup_items("20221012")
    assert len(items) == 3
    got = ingest(transcript_with_roundup(sections, items, D_2018), "day.txt", data)
    assert got == expected(sections, D_2018, own_links=False) + [(h, D_2018.isoformat(), False) for h, _ in items]
    assert "国内联播快讯" not in [title for title, _, _ in got]     # the round-up's label is no story


WEEK = [dt.date(2019, 3, 4), dt.date(2019, 3, 6), dt.date(2019, 3, 8)]


def week() -> list[tuple[dt.date, list[Section]]]:
    return [(WEEK[0], [*day_sections("20230315")[:2], seed()]),
            (WEEK[1], [*day_sections("20240218")[:2], li_peng()]),
            (WEEK[2], list(day_sections("20260109")[:2]))]


def week_expected() -> list[tuple[str, str, bool]]:
    return [(editor(h), d.isoformat(), h in CASES) for d, sections in week() for h, _, _ in sections]


def test_a_weekly_digest_with_a_date_line_per_item(data):
    assert ingest(weekly_dated_items(week()), "week.md", data) == week_expected()


@pytest.mark.parametrize("day_line", [
    lambda d: f"## {cn_date(d)}",                 # a heading per day
    lambda d: f"**{d.isoformat()}**",             # a bold date line per day
], ids=["date-heading", "bold-date-line"])
def test_a_weekly_digest_grouped_by_day(day_line, data):
    text = weekly_by_day(week(), title="一周要闻回顾", day_line=day_line)
    assert ingest(text, "week.md", data) == week_expected()


def test_day_headings_without_a_year_take_the_header_year(data):
    text = weekly_by_day(week(), title="2019年一周要闻", day_line=lambda d: f"## {d.month}月{d.day}日")
    assert ingest(text, "week.md", data) == week_expected()
    # No year anywhere in the header: the stories are not dated from another year.
    text = weekly_by_day(week(), title="一周要闻", day_line=lambda d: f"## {d.month}月{d.day}日")
    got = ingest(text, "week.md", data)
    assert [t for t, _, _ in got] == [t for t, _, _ in week_expected()]
    assert {d for t, d, _ in got if t not in CASES} == {None}


def test_single_articles_laid_out_as_text_stay_whole(data):
    """Every zh-extraction article (numbered points, sub-headings and all) as a text dump and
    as Markdown with a dated header: one story each, never a digest."""
    truth = json.loads((BENCH / "truth.json").read_text(encoding="utf-8"))
    assert len(truth) >= 50
    split = []
    for key, item in truth.items():
        paras = [p.strip() for p in item["content"].split("\n") if p.strip()]
        for name, text in ((f"{key}.txt", "某地新闻稿\n2023年12月1日\n\n" + "\n\n".join(paras)),
                           (f"{key}.md", "# 某地新闻稿\n\n2023年12月1日\n\n" + "\n\n".join(paras))):
            cases = extract_document(document_from_bytes(text.encode("utf-8"), input=name), data)
            if len(cases) != 1:
                split.append((name, [c.title for c in cases]))
    assert split == []


# --- whole real days, every section kept (快讯 items, paired profiles, headline-only) -----


def _day_blocks(fragment: str) -> list[tuple[bool, str]]:
    """(bold, text) per paragraph of a transcript section."""
    out = []
    for inner in re.findall(r"<p[^>]*>(.*?)</p>", fragment, re.DOTALL):
        text = html.unescape(re.sub(r"<[^>]+>", "", inner)).replace("\xa0", " ").strip()
        if text:
            out.append((re.fullmatch(r"\s*<strong>[^<]*</strong>\s*(?:<br\s*/?>)?\s*", inner) is not None, text))
    return out


def relaid_day(day: str, shape: str) -> str:
    parts = SECTION_RE.split((STREAM / f"{day}.md").read_text(encoding="utf-8"))
    header = f"{int(day[:4])}年{int(day[4:6])}月{int(day[6:])}日"
    sections = [(h.strip(), _day_blocks(b), m.group(1) if (m := re.search(r"\[查看原文\]\(([^)]+)\)", b)) else None)
                for h, b in zip(parts[1::2], parts[2::2], strict=True)]
    if shape == "html":
        out = [f"<!doctype html><html><head><title>新闻联播 {header}</title></head><body><h1>新闻联播</h1><div>"]
        for head, blocks, link in sections:
            out.append(f"<h2>{html.escape(head)}</h2>")
            out += [f"<p><b>{html.escape(t)}</b></p>" if bold else f"<p>{html.escape(t)}</p>" for bold, t in blocks]
            out += [f"<p><a href='{link}'>阅读原文</a></p>"] if link else []
        return "\n".join([*out, "</div></body></html>"])
    if shape == "markdown":
        out = [f"# 新闻联播 {header}", ""]
        for head, blocks, _ in sections:
            out += [f"## {head}", ""] + [x for bold, t in blocks for x in ((f"**{t}**" if bold else t), "")]
        return "\n".join(out)
    out = ["新闻联播文字版", header, ""]      # plain text: no bold, no links
    for head, blocks, _ in sections:
        out += [f"【{head}】", ""] + [x for _, t in blocks for x in (t, "")]
    return "\n".join(out)


@pytest.mark.parametrize("shape,name", [("html", "day.html"), ("markdown", "day.md"), ("text", "day.txt")])
@pytest.mark.parametrize("day", ["20221012", "20220926", "20230320"])
def test_a_whole_day_relaid_gives_the_same_stories(day, shape, name, data):
    """The same day as another layout carries it (h2 page, ## with bold items, a plain-text
    transcript with 【】 headlines where items and paired profiles lost their bold): the same
    stories, titles and cases as the transcript itself, dated by the header."""
    original = ingest((STREAM / f"{day}.md").read_text(encoding="utf-8"), f"{day}.md", data)
    relaid = ingest(relaid_day(day, shape), name, data)
    assert [t for t, _, _ in relaid] == [t for t, _, _ in original]
    assert {d for _, d, _ in relaid} == {f"{day[:4]}-{day[4:6]}-{day[6:]}"}
    assert [t for t, _, r in relaid if r] == ([LI_PENG] if day == "20221012" else [])


@pytest.mark.parametrize("header", ["2019年3月5日 星期二 农历正月廿九", "新闻联播 2019年3月5日（星期二）", "二〇一九年三月五日",
                                    "2019.03.05", "2019/3/5 19:00", "【2019年3月5日】", "〖2019-03-05〗"])
def test_header_dates_in_other_forms(header, data):
    sections = with_cases("20240416")
    text = f"新闻联播文字版\n{header}\n\n" + "\n\n".join(f"【{h}】\n\n" + "\n\n".join(p) for h, p, _ in sections)
    assert ingest(text, "day.txt", data) == expected(sections, D_2019, own_links=False)


def test_a_day_led_by_a_long_numbered_story_is_still_split(data):
    """20221202 opens with an obituary whose text counts its own parts: the day's ### sections
    are still its stories (before, the whole day was read as one story)."""
    path = STREAM / "20221202.md"
    text = path.read_text(encoding="utf-8")
    got = ingest(text, str(path), data)
    assert [t for t, _, _ in got] == SECTION_RE.findall(text)
    assert {d for _, d, _ in got} == {"2022-12-02"}
