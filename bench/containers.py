"""The shape test: the seed stories placed into real containers of other shapes.

Each variant is one seed story (from ../shared/seeds: the raw report and what a careful
editor publishes from it) put into a container: the article block of a real portal page of
../shared/fixtures/pages (kept in its own encoding, its navigation, date line, editor lines
and footers untouched), a Hexo and a Jekyll mirror post, an RSS feed item and a broadcast
transcript day of ../shared/streams/xwlb. A variant is exact when its input gives exactly
the seed's case: one relevant case with the seed's title, date, banks, province and
category, every `body_contains` snippet, and no line of the container in its body.

Everything is generated from ../shared at run time; nothing of it is copied into the
repository. Used by tests/test_containers.py and bench/quality_gate.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import lxml.html
import yaml

if TYPE_CHECKING:
    from casebook.model import Case

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
PAGES = SHARED / "fixtures" / "pages"
XWLB = SHARED / "streams" / "xwlb" / "news"

# Seeds with a headline and a day of publication: a container with a headline and a date
# line can hold them without inventing either. (004 has neither.)
PLACEABLE = ("000_93da2ac478faec21", "001_bc03fb7bacceab0f", "002_94ab2356a5567251", "003_e311d38c8422fe87")
SENTENCE_END = tuple("。！？!?”」』…：:；;）)")
DATE_IN_TEXT_RE = re.compile(
    r"(?P<y>20\d{2})(?P<s1>[-年/.])(?P<m>\d{1,2})(?P<s2>[-月/.])(?P<d>\d{1,2})(?P<s3>日?)"
    r"(?P<time>\s*\d{1,2}:\d{2}(?::\d{2})?)?")
DATE_META = ("article:published_time", "og:release_date", "publishdate", "pubdate", "publish_date", "PubDate",
             "og:published_time", "datePublished", "date", "dc.date", "weibo:article:create_at", "og:updated_time",
             "article:modified_time", "lastmod", "modified")
TIME_OF_DAY = "10:30:00"


@dataclass
class SeedStory:
    name: str
    title: str
    date: str                    # YYYY-MM-DD
    paragraphs: list[str]        # plain text; headings marked with a leading "## "
    want: dict


@dataclass
class Variant:
    name: str                    # container:seed
    filename: str
    raw: bytes
    seed: SeedStory
    container_lines: list[str] = field(default_factory=list)   # text that must not reach the case
    note: str = ""


# ---------------------------------------------------------------- seeds

def _join_cut_sentences(paragraphs: list[str]) -> list[str]:
    """A text dump breaks sentences around image captions ("…副总经" / caption / "理、…");
    the publisher's page had them whole, so the story is put back together first."""
    out: list[str] = []
    i = 0
    while i < len(paragraphs):
        text = paragraphs[i]
        caption_next = i + 2 < len(paragraphs) and len(paragraphs[i + 1]) <= 15 and paragraphs[i + 1].endswith("。")
        cut = not text.endswith(SENTENCE_END) and (len(text) > 40 or "，" in text or caption_next)
        if cut and caption_next:
            out.extend([text + paragraphs[i + 2], paragraphs[i + 1]])
            i += 3
            continue
        if cut and i + 1 < len(paragraphs):
            paragraphs[i + 1] = text + paragraphs[i + 1]
            i += 1
            continue
        out.append(text)
        i += 1
    return out


def _raw_paragraphs(raw: str) -> list[str]:
    body = re.sub(r"\A\s*---\n.*?\n---\n", "", raw, flags=re.DOTALL)
    if re.search(r"<p[\s>]", body):
        root = lxml.html.fragment_fromstring(body, create_parent="div")
        out = []
        for p in root.iter("p"):
            text = re.sub(r"\s+", " ", p.text_content()).strip()
            if not text:
                continue
            strong = "".join(s.text_content() for s in p.iter("strong", "b")).strip()
            out.append(f"## {text}" if strong == text and len(text) <= 40 else text)
        return out
    return [line.strip() for line in body.splitlines() if line.strip()]


def load_seeds() -> list[SeedStory]:
    """The relevant story of each placeable seed: from the paragraph holding its first
    `body_contains` snippet up to the first paragraph an editor leaves out (`body_excludes`)."""
    seeds = []
    for name in PLACEABLE:
        want = next(a for a in yaml.safe_load((SEEDS / "expected" / f"{name}.yaml").read_text("utf-8"))["articles"]
                    if a["relevant"])
        paragraphs = _raw_paragraphs((SEEDS / "raw" / f"{name}.txt").read_text("utf-8"))
        start = next(i for i, p in enumerate(paragraphs) if want["body_contains"][0][:12] in p)
        story: list[str] = []
        for p in paragraphs[start:]:
            if any(x in p for x in want.get("body_excludes", [])) or p == want["title"]:
                break
            story.append(p)
        seeds.append(SeedStory(name, want["title"], str(want["date"]), _join_cut_sentences(story), want))
    return seeds


def _story_html(seed: SeedStory) -> str:
    parts = []
    for p in seed.paragraphs:
        if p.startswith("## "):
            parts.append(f"<p><strong>{html.escape(p[3:])}</strong></p>")
        else:
            parts.append(f"<p>{html.escape(p)}</p>")
    return "\n".join(parts)


def _iso(seed: SeedStory) -> str:
    return f"{seed.date}T{TIME_OF_DAY}+08:00"


# ---------------------------------------------------------------- portal pages

def _visible(el: lxml.html.HtmlElement) -> bool:
    return not any(a.tag in ("script", "style", "noscript", "head") for a in el.iterancestors()) and \
        el.tag not in ("script", "style", "noscript")


def _prose(p: lxml.html.HtmlElement) -> int:
    """Characters of running text in a paragraph: sentences, not links or footer lines."""
    text = p.text_content().strip()
    links = sum(len(a.text_content().strip()) for a in p.iter("a"))
    if not re.search(r"[，。]", text) or links > len(text) / 2:
        return 0
    return len(text) - links


BLOCK_HINT_RE = re.compile(r"content|article|artibody|text|detail|post_body|main|txt|cont", re.IGNORECASE)


INLINE = {"a", "span", "strong", "b", "em", "i", "br", "img", "font", "u", "sup", "sub", "mark", "small"}


def _paragraphs(el: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Paragraph-like elements: <p>, or a div/section/td holding only inline markup."""
    return [x for x in el.iter("p", "div", "section", "td")
            if x.tag == "p" or all(isinstance(c.tag, str) and c.tag in INLINE for c in x)]


def _prose_below(el: lxml.html.HtmlElement) -> int:
    return sum(_prose(p) for p in _paragraphs(el))


def _article_block(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The article block: among elements whose class or id names content, the one with the
    most running text in its paragraphs, descending into a child that holds most of it
    (WeChat's sections, a wrapper's inner div); without such a name, the same descent from
    the body."""
    hinted = [el for el in root.iter() if isinstance(el.tag, str) and _visible(el)
              and BLOCK_HINT_RE.search(f"{el.get('class', '')} {el.get('id', '')}") and el.tag not in ("p", "a")]
    best = max(hinted, key=_prose_below, default=None)
    if best is None or _prose_below(best) < 60:
        best = next(root.iter("body"), root)
    while True:
        total = _prose_below(best)
        paragraphs = set(_paragraphs(best))
        child = max((c for c in best if isinstance(c.tag, str) and c.tag not in INLINE and c not in paragraphs),
                    key=_prose_below, default=None)
        if child is not None and _prose_below(child) < 0.6 * total:
            child = None
        if child is None or total == 0:
            break
        best = child
    if _prose_below(best) == 0:   # text without <p>: the element with the most text of its own
        own = lambda el: len((el.text or "").strip()) + sum(len((c.tail or "").strip()) for c in el)  # noqa: E731
        best = max((el for el in root.iter() if isinstance(el.tag, str) and _visible(el)), key=own)
    return best


def _headlines(root: lxml.html.HtmlElement) -> list[str]:
    """The old story's headline as the page writes it: og:title (and its first segment), and
    every visible element whose text begins the <title> (`标题-新华网`, `标题_频道_网站`)."""
    found = []
    for meta in root.iter("meta"):
        if meta.get("property") in ("og:title", "twitter:title") and (meta.get("content") or "").strip():
            value = meta.get("content").strip()
            found += [value, re.split(r"\s*(?:_|\s[-|｜]\s|｜|\|)\s*", value)[0]]
    title = next(root.iter("title"), None)
    head = re.sub(r"\s+", " ", title.text_content()).strip() if title is not None else ""
    shown = []
    for el in root.iter():
        if not isinstance(el.tag, str) or not _visible(el) or el.tag in ("a", "title") \
                or any(a.tag == "a" for a in el.iterancestors()):
            continue
        text = re.sub(r"\s+", " ", el.text_content()).strip()
        if len(text) >= 6 and head.startswith(text):
            shown.append(text)
    found += [*shown, head] if shown else [re.split(r"\s*(?:_|\s[-|｜]\s|｜|\|)\s*", head)[0]]
    return [h for h in dict.fromkeys(found) if len(h) >= 4]


def _replace_everywhere(root: lxml.html.HtmlElement, old: str, new: str, *, declarations: bool = True) -> None:
    """`old` becomes `new` in the page's text and, with `declarations`, in its attributes
    (meta tags) and scripts too."""
    for el in root.iter():
        if not isinstance(el.tag, str):   # a comment: its tail is page text (<h1><!-- start -->Title)
            if el.tail and old in el.tail:
                el.tail = el.tail.replace(old, new)
            continue
        if not declarations and el.tag == "script":
            continue
        if el.text and old in el.text:
            el.text = el.text.replace(old, new)
        if el.tail and old in el.tail:
            el.tail = el.tail.replace(old, new)
        if not declarations:
            continue
        for key, value in el.attrib.items():
            if old in value:
                el.set(key, value.replace(old, new))


def _same_form(match: re.Match[str], seed: SeedStory) -> str:
    y, m, d = seed.date.split("-")
    width = 2 if len(match["m"]) == 2 or len(match["d"]) == 2 else 1
    m, d = (m, d) if width == 2 else (str(int(m)), str(int(d)))
    time = ""
    if match["time"]:
        lead = match["time"][: len(match["time"]) - len(match["time"].lstrip())]
        time = lead + (TIME_OF_DAY if match["time"].count(":") == 2 else TIME_OF_DAY[:5])
    return f"{y}{match['s1']}{m}{match['s2']}{d}{match['s3']}{time}"


def _set_dates(root: lxml.html.HtmlElement, block: lxml.html.HtmlElement, seed: SeedStory, *,
               declarations: bool = True) -> bool:
    """The page's own date becomes the seed's: declared dates (meta, <time>, JSON-LD, WeChat's
    ct; only with `declarations`) and the date line — the first dated text outside links
    before the article block. Returns whether the page had a date line."""
    for meta in root.iter("meta") if declarations else ():
        if any(meta.get(k) in DATE_META for k in ("property", "name", "itemprop")) and meta.get("content"):
            meta.set("content", _iso(seed))
    for time in root.iter("time") if declarations else ():
        if time.get("datetime"):
            time.set("datetime", _iso(seed))
    for script in root.iter("script") if declarations else ():
        if script.text and "datePublished" in script.text:
            script.text = re.sub(r'("date(?:Published|Modified|Created)"\s*:\s*")[^"]*', rf"\g<1>{_iso(seed)}",
                                 script.text)
        if script.text and re.search(r"\bct\s*=", script.text):
            stamp = int(dt.datetime.fromisoformat(_iso(seed)).timestamp())
            script.text = re.sub(r'(\bct\s*=\s*["\'])\d{10}', rf"\g<1>{stamp}", script.text)
    original: str | None = None
    for el in root.iter():
        if el is block:
            break
        if not isinstance(el.tag, str) or not _visible(el):
            continue
        in_link = any(a.tag == "a" for a in el.iterancestors())
        for attr in ("text", "tail"):
            value = getattr(el, attr)
            if in_link or (attr == "text" and el.tag == "a"):   # link text: related stories
                continue
            if value and (match := DATE_IN_TEXT_RE.search(value)):
                original = match.group(0)
                break
        if original:
            break
    found = DATE_IN_TEXT_RE.search(original) if original else None   # it matched once already
    if original is None or found is None:
        return False
    replacement = _same_form(found, seed)
    _replace_everywhere(root, original, replacement, declarations=declarations)
    return True


def _outside_lines(root: lxml.html.HtmlElement, block: lxml.html.HtmlElement) -> list[str]:
    """Visible text of the page outside the article block: none of it belongs to the case."""
    inside = set(block.iter())
    lines = []
    for el in root.iter():
        if not isinstance(el.tag, str) or el in inside or not _visible(el):
            continue
        for value in (el.text, el.tail if el.getparent() is not None and el.getparent() not in inside else None):
            for line in (value or "").split("\n"):
                line = line.strip()
                if len(line) >= 12:
                    lines.append(line)
    return lines


# What these portals keep inside their own article blocks, after the story (the block's
# furniture, which a careful copy of the story into the block keeps too).
BLOCK_FURNITURE = {
    "022_": ['<p>海量资讯、精准解读，尽在新浪财经APP</p>', '<p class="article-editor">责任编辑：张文 </p>'],
    "032_": ['<p>（责编：赵欣悦、牛镛）</p>', '<p>分享让更多人看到</p>'],
    "034_": ['<p>推荐阅读</p>', '<p><a href="https://mp.weixin.qq.com/s/a">银行业协会发布年度社会责任报告</a></p>',
             '<p><a href="https://mp.weixin.qq.com/s/b">五部门联合部署金融教育宣传周活动</a></p>'],
    "023_": ['<p>栏目主编：张晓明 文字编辑：李华</p>', '<p>关注公众号：人民网财经</p>'],
}


def page_variant(page: Path, seed: SeedStory, *, declarations: bool = True) -> Variant:
    """The seed in the page's article block, under the page's headline and date line. Without
    `declarations` the page's meta tags, JSON-LD and scripts keep the old story's title and
    date (a container edited by hand, as a reader sees it)."""
    from scraper.decode import decode

    raw = page.read_bytes()
    text, codec = decode(raw, source=str(page))
    root = lxml.html.document_fromstring(text.replace("\r\n", "\n").encode("utf-8"),
                                         parser=lxml.html.HTMLParser(encoding="utf-8"))
    block = _article_block(root)
    for old in sorted(_headlines(root), key=len, reverse=True):   # longest first: a headline holds its segments
        _replace_everywhere(root, old, seed.title, declarations=declarations)
    for script in root.iter("script") if declarations else ():   # WeChat keeps its headline in a script variable
        if script.text and "msg_title" in script.text:
            script.text = re.sub(r"""(var\s+msg_title\s*=\s*['"]).*?(['"])""",
                                 lambda m: m.group(1) + seed.title + m.group(2), script.text)
    title = next(root.iter("title"), None)
    if title is not None and seed.title not in (title.text or ""):
        title.text = seed.title + " " + (title.text or "")
    had_date_line = _set_dates(root, block, seed, declarations=declarations)
    for child in list(block):
        block.remove(child)
    block.text = "\n"
    dateline = "" if had_date_line else f"<p>发布时间：{seed.date} {TIME_OF_DAY[:5]}</p>"
    furniture = next((v for k, v in BLOCK_FURNITURE.items() if page.stem.startswith(k)), [])
    fragment = lxml.html.fragment_fromstring(dateline + _story_html(seed) + "".join(furniture), create_parent="div")
    for child in fragment:
        block.append(child)
    container = [line for line in _outside_lines(root, block)
                 if seed.title not in line and not any(line in p for p in seed.paragraphs)]
    container += [re.sub(r"<[^>]+>", "", f).strip() for f in furniture]
    out = lxml.html.tostring(root, encoding="unicode", doctype="<!DOCTYPE html>")
    encoded = out.encode(codec, errors="xmlcharrefreplace")
    kind = page.stem if declarations else f"{page.stem}-stale-meta"
    return Variant(f"{kind}:{seed.name}", page.name, encoded, seed, container,
                   note="" if had_date_line else "no date line on the page: one was added before the story")


# ---------------------------------------------------------------- mirror posts, feeds, transcripts

# What mirrors put around a story (the phrases of issue 14): closings, notices, editor
# blocks, account promotions, a 推荐阅读 list of links.
MIRROR_FURNITURE = ["展开阅读全文", "版权归原作者所有，向原创者致敬", "栏目主编：张晓明 文字编辑：李华",
                    "关注公众号：人民网财经"]
RELATED = [("银行业协会发布年度社会责任报告", "https://example.com/a.html"),
           ("五部门联合部署金融教育宣传周活动", "https://example.com/b.html")]


def hexo_variant(seed: SeedStory) -> Variant:
    stamp = dt.datetime.fromisoformat(_iso(seed)).astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    title = seed.title.replace("“", "_").replace("”", "_")
    front = (f"---\ntitle: '{title}'\ncategories: \n - 新媒体\n - 趣头条\n - 分类\nauthor: 趣头条\n"
             f"comments: false\ndate: {stamp}\n---\n\n")
    body = "<div>\n" + _story_html(seed) + "\n<p>" + "</p>\n<p>".join(MIRROR_FURNITURE) + "</p>\n</div>\n"
    return Variant(f"hexo:{seed.name}", "post.md", (front + body).encode("utf-8"), seed,
                   container_lines=MIRROR_FURNITURE)


def jekyll_variant(seed: SeedStory) -> Variant:
    front = (f'---\nlayout: post\ntitle: "{seed.title}"\ndate: {seed.date} {TIME_OF_DAY} +0800\n'
             "categories: hongwang\ntags: 红网新闻\n---\n")
    footer = ("\n\n<http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112302231516167>\n\n"
              "[返回红网新闻](//finews.withounder.com/category/hongwang.html)｜[返回首页](//finews.withounder.com/)\n")
    related = "".join(f'<li><a href="{url}">{text}</a></li>' for text, url in RELATED)
    body = _story_html(seed).replace("\n", "") + "<p>（责编：王五）</p><p>推荐阅读</p><ul>" + related + "</ul>"
    lines = ["返回红网新闻", "finews.withounder.com", "推荐阅读", "责编", *(text for text, _ in RELATED)]
    return Variant(f"jekyll:{seed.name}", "post.md", (front + body + footer).encode("utf-8"), seed,
                   container_lines=lines)


def rss_variant(seed: SeedStory, *, escaped: bool) -> Variant:
    """An RSS 2.0 feed whose first item carries the whole story: in content:encoded (CDATA),
    or as escaped HTML in description. A second item is another, unrelated story."""
    stamp = dt.datetime.fromisoformat(_iso(seed)).strftime("%a, %d %b %Y %H:%M:%S +0800")
    story = _story_html(seed)
    if escaped:
        content = f"<description>{html.escape(story)}</description>"
    else:
        content = (f"<description>{html.escape(seed.paragraphs[0][:60])}</description>"
                   f"<content:encoded><![CDATA[{story}]]></content:encoded>")
    other = ("<p>本台消息，今年全国夏粮喜获丰收，总产量创历史新高。各地抢抓农时，夏收夏种进展顺利，"
             "农业农村部门组织农机跨区作业，确保颗粒归仓。</p>" * 2)
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>社区金融资讯 - 订阅</title>
<link>http://127.0.0.1:9/</link>
<description>海量资讯、精准解读，尽在社区金融资讯</description>
<lastBuildDate>Mon, 01 Jan 2024 08:00:00 +0800</lastBuildDate>
<item>
<title>{html.escape(seed.title)}</title>
<link>http://127.0.0.1:9/news/{seed.name}.html</link>
<guid>http://127.0.0.1:9/news/{seed.name}.html</guid>
<pubDate>{stamp}</pubDate>
<dc:creator>社区金融资讯</dc:creator>
{content}
</item>
<item>
<title>全国夏粮喜获丰收 总产量创历史新高</title>
<link>http://127.0.0.1:9/news/other.html</link>
<pubDate>Tue, 11 Jul 2023 19:00:00 +0800</pubDate>
<content:encoded><![CDATA[{other}]]></content:encoded>
</item>
</channel>
</rss>
"""
    kind = "rss-description" if escaped else "rss-content"
    return Variant(f"{kind}:{seed.name}", "feed.xml", feed.encode("utf-8"), seed,
                   container_lines=["社区金融资讯 - 订阅", "海量资讯、精准解读，尽在社区金融资讯", "全国夏粮喜获丰收"])


def transcript_variant(seed: SeedStory) -> Variant:
    """The seed as one `###` section of the transcript of its own day (or the nearest later
    day the stream holds), between the day's other stories."""
    days = sorted(XWLB.glob("*.md"))
    wanted = seed.date.replace("-", "")
    day = next((d for d in days if d.stem >= wanted), days[-1])
    text = day.read_text("utf-8")
    y, m, d = day.stem[:4], day.stem[4:6], day.stem[6:]
    section = (f"### {seed.title}\n\n{_story_html(seed).replace(chr(10), '')}\n\n"
               f"[查看原文](https://tv.cctv.com/{y}/{m}/{d}/VIDEcasebookshape{day.stem}.shtml)\n\n")
    marks = [m.start() for m in re.finditer(r"^### ", text, re.MULTILINE)]
    at = marks[min(3, len(marks) - 1)] if marks else len(text)
    out = text[:at] + section + text[at:]
    variant_seed = SeedStory(seed.name, seed.title, f"{y}-{m}-{d}", seed.paragraphs, seed.want)
    headings = re.findall(r"^### (.+)$", text, re.MULTILINE)
    return Variant(f"xwlb-{day.stem}:{seed.name}", f"{day.stem}.md", out.encode("utf-8"), variant_seed,
                   container_lines=[h for h in headings if len(h) >= 12][:10])


# ---------------------------------------------------------------- more shapes (the held-out kinds)

def _other_news(count: int) -> list[tuple[str, list[str]]]:
    """Real non-case news texts (no bank in them) from ../shared/bench/zh-extraction, as
    (headline, paragraphs) pairs: the other items of a feed."""
    truth = json.loads((SHARED / "bench" / "zh-extraction" / "truth.json").read_text("utf-8"))
    out = []
    for name in sorted(truth):
        text = truth[name]["content"]
        if "银行" in text or "金融" in text or len(text) < 400:
            continue
        paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) >= 20][:6]
        if len(paragraphs) < 2:
            continue
        out.append((paragraphs[0][:18].rstrip("，。") + "", paragraphs))
        if len(out) == count:
            break
    return out


def _markdown_story(seed: SeedStory) -> str:
    return "\n\n".join(f"**{p[3:]}**" if p.startswith("## ") else p for p in seed.paragraphs) + "\n"


RELATED_BANK = [("邮储银行开展反诈宣传进社区活动", "/news/2023/a1.html"),
                ("建设银行劳动者港湾温暖户外工作者", "/news/2023/a2.html"),
                ("农业银行流动服务车开进偏远山村", "/news/2023/a3.html")]


def _related_html(heading: str = "相关阅读") -> str:
    items = "".join(f'<li><a href="{u}">{t}</a><span class="time">2023-05-1{i}</span></li>'
                    for i, (t, u) in enumerate(RELATED_BANK))
    return f'<div class="related"><h3>{heading}</h3><ul>{items}</ul></div>'


def _shell(seed: SeedStory, *, head: str = "", top: str = "", dateline: str = "", block_open: str = '<div class="content">',
           block_close: str = "</div>", story: str | None = None, after: str = "", html_attrs: str = "",
           charset: str | None = "utf-8") -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (f"<!DOCTYPE html><html{html_attrs}><head>{meta}<title>{html.escape(seed.title)}_社区金融网</title>{head}</head>"
            f'<body><div class="nav"><a href="/">首页</a> <a href="/finance/">财经频道</a> <a href="/local/">地方新闻</a></div>'
            f"{top}<h1>{html.escape(seed.title)}</h1>{dateline}{block_open}"
            f"{story if story is not None else _story_html(seed)}{block_close}{after}"
            '<div class="footer"><p>关于我们 | 联系我们 | 广告服务 | 网站地图</p>'
            "<p>Copyright © 2017-2024 社区金融网 版权所有 京ICP备12345678号</p></div></body></html>")


NAV_LINES = ["关于我们 | 联系我们 | 广告服务 | 网站地图", "Copyright © 2017-2024 社区金融网 版权所有"]


def _page(kind: str, seed: SeedStory, text: str, lines: list[str], *, codec: str = "utf-8",
          filename: str = "page.html") -> Variant:
    return Variant(f"{kind}:{seed.name}", filename, text.encode(codec, errors="xmlcharrefreplace"), seed,
                   container_lines=[*NAV_LINES, *lines])


def hugo_variant(seed: SeedStory, *, toml: bool) -> Variant:
    if toml:
        front = (f'+++\ntitle = "{seed.title}"\ndate = {_iso(seed)}\ndraft = false\n'
                 'tags = ["社区", "金融"]\ncategories = ["转载"]\n+++\n\n')
    else:
        front = (f'---\ntitle: "{seed.title}"\ndate: {_iso(seed)}\ndraft: false\ntags: ["社区", "金融"]\n'
                 "categories: [转载]\n---\n\n")
    tail = "\n---\n\n本文转载自网络，版权归原作者所有，如有侵权请联系删除。\n"
    return Variant(f"hugo-{'toml' if toml else 'yaml'}:{seed.name}", "index.md",
                   (front + _markdown_story(seed) + tail).encode("utf-8"), seed,
                   container_lines=["本文转载自网络，版权归原作者所有"])


def jekyll_filename_variant(seed: SeedStory) -> Variant:
    front = f'---\nlayout: post\ntitle: "{seed.title}"\ncategories: news\n---\n\n'
    return Variant(f"jekyll-filename:{seed.name}", f"{seed.date}-community-finance.md",
                   (front + _markdown_story(seed)).encode("utf-8"), seed)


def wordpress_variant(seed: SeedStory) -> Variant:
    day = seed.date.split("-")
    shown = f"{day[0]}年{int(day[1])}月{int(day[2])}日"
    comments = ('<div id="comments" class="comments-area"><h2 class="comments-title">《' + seed.title +
                '》上有2条评论</h2><ol class="comment-list"><li class="comment"><p>点赞！银行服务做到了家门口，'
                "老人办事方便多了。</p></li><li class=\"comment\"><p>我们小区什么时候也能有这样的服务站？</p></li></ol>"
                '<div id="respond"><h3>发表回复</h3><p>您的电子邮箱地址不会被公开。</p></div></div>')
    story = ('<article class="post type-post hentry"><header class="entry-header"><h1 class="entry-title">'
             f'{html.escape(seed.title)}</h1><div class="entry-meta"><span class="posted-on">发布于 <a href="/p/1">'
             f'<time class="entry-date published" datetime="{_iso(seed)}">{shown}</time></a></span>'
             '<span class="byline"> 作者 <a href="/author/admin">admin</a></span></div></header>'
             f'<div class="entry-content">{_story_html(seed)}</div><footer class="entry-footer">'
             '<span class="cat-links">分类 <a href="/c/news">新闻</a></span></footer></article>')
    text = (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8"><title>{html.escape(seed.title)} – 社区金融观察'
            '</title></head><body class="post-template-default single"><div id="page" class="site">'
            '<header class="site-header"><p class="site-title"><a href="/">社区金融观察</a></p></header>'
            f'<div id="content" class="site-content"><main id="main" class="site-main">{story}'
            f'<nav class="post-navigation"><a href="/p/0">上一篇：2019年社区金融服务回顾与展望</a></nav>'
            f'{_related_html("相关文章")}{comments}</main><aside id="secondary" class="widget-area">'
            '<section class="widget"><h2>近期文章</h2><ul><li><a href="/p/9">2020年普惠金融工作会议召开</a></li></ul>'
            '</section></aside></div><footer class="site-footer">自豪地采用WordPress</footer></div></body></html>')
    lines = ["老人办事方便多了", "我们小区什么时候也能有这样的服务站", "您的电子邮箱地址不会被公开", "上有2条评论",
             "2019年社区金融服务回顾与展望", "自豪地采用WordPress", *(t for t, _ in RELATED_BANK)]
    return Variant(f"wordpress:{seed.name}", "index.html", text.encode("utf-8"), seed, container_lines=lines)


def amp_variant(seed: SeedStory) -> Variant:
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle", "headline": seed.title,
                     "datePublished": _iso(seed), "author": {"@type": "Organization", "name": "社区金融网"}},
                    ensure_ascii=False)
    head = ('<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1">'
            '<link rel="canonical" href="https://www.example.com/news/1.html">'
            '<script async src="https://cdn.ampproject.org/v0.js"></script>'
            f'<script type="application/ld+json">{ld}</script><style amp-boilerplate>body{{visibility:hidden}}</style>')
    story = _story_html(seed) + '<amp-img src="https://img.example.com/1.jpg" width="600" height="400" layout="responsive"></amp-img>'
    after = ('<amp-social-share type="wechat"></amp-social-share><div class="amp-share">分享到：微信 微博 QQ空间</div>'
             + _related_html("推荐阅读"))
    text = _shell(seed, head=head, html_attrs=" ⚡ lang=\"zh\"", block_open='<div class="article-body">',
                  story=story, after=after)
    return _page("amp", seed, text, ["分享到：微信 微博 QQ空间", *(t for t, _ in RELATED_BANK)])


def mobile_variant(seed: SeedStory) -> Variant:
    head = '<meta name="viewport" content="width=device-width, initial-scale=1.0, user-scalable=no">'
    top = '<div class="m-top"><a href="/">社区金融网手机版</a><a class="open-app" href="/app">打开APP</a></div>'
    dateline = f'<div class="m-info"><span class="m-time">{seed.date} 10:30</span><span class="m-src">社区金融网</span></div>'
    after = ('<div class="m-share"><span>分享到</span><a>微信</a><a>朋友圈</a><a>微博</a></div>'
             '<div class="m-open-app"><a href="/app">打开APP阅读全文</a></div>'
             '<div class="m-more"><a href="/list">查看更多精彩内容 ></a></div>' + _related_html("猜你喜欢"))
    text = _shell(seed, head=head, top=top, dateline=dateline, block_open='<div class="m-article">', after=after)
    return _page("mobile", seed, text, ["打开APP阅读全文", "查看更多精彩内容", "社区金融网手机版",
                                        *(t for t, _ in RELATED_BANK)], filename="m.html")


def print_variant(seed: SeedStory) -> Variant:
    y, m, d = seed.date.split("-")
    text = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>打印 - {html.escape(seed.title)}'
            '</title><style>@media print{.noprint{display:none}}</style></head><body onload="window.print()">'
            '<div class="noprint"><a href="javascript:window.print()">打印本页</a> <a href="javascript:window.close()">关闭窗口</a></div>'
            f'<table width="640" align="center"><tr><td align="center"><b>{html.escape(seed.title)}</b></td></tr>'
            f'<tr><td align="center">来源：社区金融网　　发布时间：{y}-{m}-{d}</td></tr>'
            f'<tr><td class="print-text">{_story_html(seed)}</td></tr>'
            '<tr><td align="center">本文网址：https://www.example.com/news/1.html</td></tr></table></body></html>')
    return _page("print", seed, text, ["打印本页", "关闭窗口", "本文网址"])


def meta_date_variant(seed: SeedStory, attribute: str) -> Variant:
    head = (f'<meta name="publishdate" content="{seed.date}">' if attribute == "name"
            else f'<meta itemprop="datePublished" content="{_iso(seed)}">')
    text = _shell(seed, head=head, block_open='<div class="article">')
    return _page(f"meta-{'publishdate' if attribute == 'name' else 'itemprop'}", seed, text, [])


def dateline_variant(seed: SeedStory, form: str, n: int) -> Variant:
    y, m, d = seed.date.split("-")
    line = form.format(y=y, m=m, d=d)
    text = _shell(seed, dateline=f'<div class="info">{line}</div>', after=_related_html())
    return _page(f"dateline{n}", seed, text, [*(t for t, _ in RELATED_BANK)])


DATELINE_FORMS = ("发布日期：{y}年{m}月{d}日", "时间：{y}/{m}/{d}", "{y}.{m}.{d}",
                  "{y}-{m}-{d} 15:09 来源：社区金融网 作者：李明")


def split_variant(seed: SeedStory) -> Variant:
    paragraphs = _story_html(seed).split("\n")
    third = max(1, len(paragraphs) // 3)
    chunks = [paragraphs[:third], paragraphs[third:2 * third], paragraphs[2 * third:]]
    ad = ('<div class="ad-slot"><a href="https://ad.example.com/c">广告 限时优惠 信用卡免年费办理</a></div>')
    story = ad.join(f'<div class="content-part">{"".join(c)}</div>' for c in chunks)
    text = _shell(seed, dateline=f'<div class="info">{seed.date} 10:30:00</div>', block_open='<div class="article-content">',
                  story=story)
    return _page("split-ads", seed, text, ["限时优惠 信用卡免年费办理"])


def atom_variant(seed: SeedStory, *, xhtml: bool) -> Variant:
    if xhtml:
        content = f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{_story_html(seed)}</div></content>'
    else:
        content = f'<content type="html">{html.escape(_story_html(seed))}</content>'
    others = "".join(
        f"<entry><title>{html.escape(title)}</title><link rel=\"alternate\" href=\"http://127.0.0.1:9/o{i}.html\"/>"
        f"<id>urn:o{i}</id><updated>2023-07-1{i}T11:00:00Z</updated>"
        f'<content type="html">{html.escape("".join(f"<p>{p}</p>" for p in paras))}</content></entry>'
        for i, (title, paras) in enumerate(_other_news(1)))
    feed = (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"><title>社区金融动态</title>'
            f'<subtitle>每日更新的社区金融资讯</subtitle><updated>2024-01-01T00:00:00Z</updated><id>urn:feed</id>'
            f'<entry><title>{html.escape(seed.title)}</title><link rel="alternate" href="http://127.0.0.1:9/s.html"/>'
            f"<id>urn:seed</id><published>{_iso(seed)}</published><updated>2024-01-01T00:00:00Z</updated>"
            f"<author><name>社区金融网</name></author>{content}</entry>{others}</feed>")
    return Variant(f"atom-{'xhtml' if xhtml else 'html'}:{seed.name}", "atom.xml", feed.encode("utf-8"), seed,
                   container_lines=["每日更新的社区金融资讯", *(t for t, _ in _other_news(1))])


def rss_three_variant(seed: SeedStory, codec: str = "utf-8") -> Variant:
    """Three items of which one is the seed (the others real non-case news), in UTF-8 or in
    a legacy codec that the XML declaration names."""
    stamp = dt.datetime.fromisoformat(_iso(seed)).strftime("%a, %d %b %Y %H:%M:%S +0800")
    news = _other_news(2)
    def item(title: str, paras: list[str], date: str, n: int) -> str:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paras)
        return (f"<item><title>{html.escape(title)}</title><link>http://127.0.0.1:9/n{n}.html</link>"
                f"<pubDate>{date}</pubDate><description><![CDATA[{body}]]></description></item>")
    items = [item(news[0][0], news[0][1], "Mon, 10 Jul 2023 08:00:00 +0800", 0),
             item(seed.title, seed.paragraphs, stamp, 1).replace(
                 "".join(f"<p>{html.escape(p)}</p>" for p in seed.paragraphs), _story_html(seed)),
             item(news[1][0], news[1][1], "Tue, 11 Jul 2023 08:00:00 +0800", 2)]
    feed = (f'<?xml version="1.0" encoding="{codec}"?>\n<rss version="2.0"><channel><title>今日要闻</title>'
            f'<link>http://127.0.0.1:9/</link><description>今日要闻订阅</description>{"".join(items)}</channel></rss>')
    lines = [p[:30] for _, paras in news for p in paras]
    kind = "rss-three" if codec == "utf-8" else f"rss-three-{codec}"
    return Variant(f"{kind}:{seed.name}", "rss.xml", feed.encode(codec, errors="xmlcharrefreplace"), seed,
                   container_lines=lines)


def json_feed_variant(seed: SeedStory) -> Variant:
    news = _other_news(1)[0]
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "社区金融动态", "home_page_url": "https://example.com/",
            "items": [{"id": "1", "url": "https://example.com/s.html", "title": seed.title,
                       "content_html": _story_html(seed), "date_published": _iso(seed),
                       "authors": [{"name": "社区金融网"}]},
                      {"id": "2", "url": "https://example.com/o.html", "title": news[0],
                       "content_text": "\n\n".join(news[1]), "date_published": "2023-07-10T08:00:00+08:00"}]}
    return Variant(f"json-feed:{seed.name}", "feed.json", json.dumps(feed, ensure_ascii=False, indent=1).encode("utf-8"),
                   seed, container_lines=[p[:30] for p in news[1]])


def encoding_variant(seed: SeedStory, codec: str) -> Variant:
    """A GBK or GB18030 page with no charset declared anywhere (no meta, no header)."""
    text = _shell(seed, dateline=f'<div class="info">{seed.date} 10:30 来源：社区金融网</div>', charset=None)
    return _page(f"{codec}-undeclared", seed, text, [], codec=codec)


def traditional_variant(seed: SeedStory, *, declared: bool = True) -> Variant:
    """The seed converted to Traditional characters in a Big5 page (declared as big5, or not
    at all: Big5 bytes are mostly valid GB18030 too)."""
    import opencc

    to_trad = opencc.OpenCC("s2t")
    trad = SeedStory(seed.name, to_trad.convert(seed.title), seed.date,
                     [to_trad.convert(p) for p in seed.paragraphs], seed.want)
    # The site speaks Simplified Chinese: the case expected is the seed's own, in Simplified.
    text = _shell(trad, dateline=f'<div class="info">{seed.date} 10:30 來源：社區金融網</div>', charset="big5" if declared else None,
                  story=_story_html(trad) + '<p>分享到：臉書 推特 微信</p><p class="editor">（責任編輯：王小明）</p>')
    kind = "big5-traditional" if declared else "big5-undeclared"
    furniture = ["責任編輯：王小明", "分享到：臉書 推特 微信"]
    variant = _page(kind, trad, text, [*furniture, *(opencc.OpenCC("t2s").convert(x) for x in furniture)],
                    codec="big5")
    return dataclasses.replace(variant, seed=seed)   # expected: the seed's own (Simplified) case


def related_variant(seed: SeedStory) -> Variant:
    after = _related_html("相关阅读") + _related_html("推荐阅读").replace("相关", "推荐")
    inside = _story_html(seed) + '<p><strong>相关阅读：</strong></p>' + "".join(
        f'<p><a href="{u}">{t}</a></p>' for t, u in RELATED_BANK)
    text = _shell(seed, dateline=f'<div class="info">{seed.date} 10:30</div>', story=inside, after=after)
    return _page("related-reading", seed, text, [t for t, _ in RELATED_BANK])


JETPACK = ('<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">分享此文章：</h3><ul><li><a href="#">Twitter</a>'
           '</li><li><a href="#">Facebook</a></li></ul></div><div class="sharedaddy sd-like"><h3 class="sd-title">赞过：</h3>'
           '<span class="button">赞</span> <span class="loading">正在加载……</span></div>'
           '<div id="jp-relatedposts" class="jp-relatedposts"><h3><em>相关</em></h3>'
           + "".join(f'<div class="jp-relatedposts-post"><h4><a href="{u}">{t}</a></h4><p>2023年5月1日</p><p>在“新闻”中</p>'
                     "</div>" for t, u in RELATED_BANK) + "</div>")


def wordpress_jetpack_variant(seed: SeedStory) -> Variant:
    """WordPress with Jetpack's share bar, like button and related posts inside .entry-content."""
    wp = wordpress_variant(seed)
    raw = wp.raw.decode("utf-8").replace('</div><footer class="entry-footer">', JETPACK + '</div><footer class="entry-footer">')
    return Variant(f"wordpress-jetpack:{seed.name}", "index.html", raw.encode("utf-8"), seed,
                   container_lines=[*wp.container_lines, "分享此文章", "正在加载", "在“新闻”中"])


def caption_credit_variant(seed: SeedStory) -> Variant:
    """An image with its caption inside the story, a bracketed source and editor at its end."""
    story = _story_html(seed).replace(
        "</p>\n", "</p>\n<p><img src='https://img.example.com/a.jpg'></p><p class='caption'>图为活动现场。</p>\n", 1)
    story += "<p>（本文来源：社区金融网）</p><p>【编辑：王五】</p>"
    text = _shell(seed, dateline=f'<div class="info">{seed.date}</div>', story=story)
    return _page("caption-credit", seed, text, ["本文来源：社区金融网", "编辑：王五"])


def more_variants(seeds: list[SeedStory]) -> list[Variant]:
    """The shapes a held-out test may use: Hugo (TOML, YAML), a Jekyll post dated by its file
    name, WordPress, AMP, mobile and print pages, dates only in meta tags or in other date-line
    forms, a story split by ads, Atom (html, xhtml), a three-item RSS feed (UTF-8, GBK), a JSON
    Feed, GBK and GB18030 pages without a charset, Big5 Traditional pages (declared or not),
    and related-reading lists."""
    s = seeds
    out = [hugo_variant(s[0], toml=True), hugo_variant(s[2], toml=False), jekyll_filename_variant(s[1]),
           wordpress_variant(s[3]), amp_variant(s[0]), mobile_variant(s[1]), print_variant(s[2]),
           meta_date_variant(s[3], "name"), meta_date_variant(s[0], "itemprop"),
           *(dateline_variant(s[(i + 1) % 4], form, i + 1) for i, form in enumerate(DATELINE_FORMS)),
           split_variant(s[3]), atom_variant(s[1], xhtml=False), atom_variant(s[2], xhtml=True),
           rss_three_variant(s[0]), json_feed_variant(s[3]), encoding_variant(s[1], "gbk"),
           encoding_variant(s[2], "gb18030"), traditional_variant(s[0]), related_variant(s[3]),
           traditional_variant(s[2], declared=False), rss_three_variant(s[3], "gbk"),
           wordpress_jetpack_variant(s[2]), caption_credit_variant(s[1])]
    return out


def variants() -> list[Variant]:
    seeds = load_seeds()
    out = [page_variant(page, seeds[i % len(seeds)]) for i, page in enumerate(sorted(PAGES.glob("*.html")))]
    stale = [p for p in sorted(PAGES.glob("*.html")) if p.stem.startswith(("025_", "041_", "043_", "033_"))]
    out += [page_variant(page, seeds[(i + 1) % len(seeds)], declarations=False) for i, page in enumerate(stale)]
    out += [hexo_variant(seeds[1]), hexo_variant(seeds[3]), jekyll_variant(seeds[0]), jekyll_variant(seeds[3]),
            rss_variant(seeds[2], escaped=False), rss_variant(seeds[1], escaped=True),
            transcript_variant(seeds[1])]
    out += more_variants(seeds)
    return out


# ---------------------------------------------------------------- checking

def problems(variant: Variant, cases: list[Case]) -> list[str]:
    """What keeps the cases of one variant from being exactly the seed's case (empty: exact)."""
    relevant = [c for c in cases if c.relevant]
    if len(relevant) != 1:
        return [f"{len(relevant)} relevant cases ({[c.title for c in cases]})"]
    case, want, seed = relevant[0], variant.seed.want, variant.seed
    found = []
    if case.title != seed.title:
        found.append(f"title {case.title!r}")
    if not (case.date or "").startswith(seed.date):
        found.append(f"date {case.date!r}, want {seed.date}")
    if case.banks != want["banks"]:
        found.append(f"banks {case.banks}")
    if case.province != want["region"].get("province"):
        found.append(f"province {case.province}")
    if case.category != want["category"]:
        found.append(f"category {case.category}")
    found += [f"body lacks {s!r}" for s in want["body_contains"] if s not in case.body]
    found += [f"body holds container text {line[:40]!r}" for line in variant.container_lines
              if line in case.body]
    return found


def score(tmp: Path) -> tuple[int, int, dict[str, list[str]]]:
    """(exact variants, all variants, problems by variant), each variant written to `tmp`
    under its own file name and read by the real pipeline."""
    from casebook.data import load_data
    from casebook.settings import load
    from scraper.pipeline import extract_input

    settings = load()
    data = load_data(settings.data_dir)
    report: dict[str, list[str]] = {}
    items = variants()
    for n, variant in enumerate(items):
        folder = tmp / f"v{n:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / variant.filename
        path.write_bytes(variant.raw)
        result = extract_input(str(path), settings, data)
        report[variant.name] = [f"error: {result.error}"] if result.error else problems(variant, result.cases)
    exact = sum(not p for p in report.values())
    return exact, len(items), report


if __name__ == "__main__":
    import sys
    import tempfile

    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as folder:
        exact_count, total, details = score(Path(folder))
    for name, found in details.items():
        print(("ok   " if not found else "FAIL ") + name + ("" if not found else "  " + "; ".join(found)[:300]))
    print(json.dumps({"exact": exact_count, "variants": total}))
