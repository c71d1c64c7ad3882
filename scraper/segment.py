"""Digest-shaped inputs split into stories from the document's structure.

A digest is one document holding several stories: a daily broadcast transcript, a TOP10 or
一周要闻 digest, a round-up page. Its structure says where the stories are, whatever the
source: a heading level that repeats over story-sized sections (Markdown `#`..`######`,
HTML `h1`-`h6`, bold-only lines), or consecutively numbered items. A level counts as a
story level only with a digest signal besides the repetition (each section links its own
page, a summary list repeats the headings, the document calls itself a digest, sections
open with a news-agency dateline, the items are numbered 1, 2, 3 ...): an article with
sub-headings has none of these. Inside a story-level section, a round-up of short items
(快讯) or two profiles paired under one heading are split again at their own headlines.

Each story gets its title (its heading as an editor writes it: column tag and broadcast
prefix dropped), its date (its own link's path, else the document's header, with a review
note) and its source address (its section's link). The rules are data: scraper/data/digest.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import lxml.etree
import lxml.html

from casebook.data import Data
from casebook.safety import safe_url
from scraper import dates

MD_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(\S.*)$")   # closing #s are stripped after (no backtracking)
MD_LINK_LINE_RE = re.compile(r"^\[(?P<text>[^\[\]\n]{1,80})\]\((?P<url>[^()\s]{1,2000})\)$")
MD_IMAGE_LINE_RE = re.compile(r"^!\[(?P<alt>[^\[\]\n]{0,120})\]\((?P<url>[^()\s]{1,2000})\)$")
MD_BOLD_LINE_RE = re.compile(r"^(?:\*\*|__)(?P<text>[^*_\n]{2,80})(?:\*\*|__)$")
# A plain-text source line: "原文链接：https://..." (the label is checked against the rules).
LABELLED_URL_RE = re.compile(r"^(?P<label>[^:：\s]{2,12})\s*[:：]\s*(?P<url>https?://[^\s<>\"]{4,2000})$")
MD_HEADING_LINK_RE = re.compile(r"^\[(?P<text>[^\[\]\n]{2,120})\]\((?P<url>[^()\s]{1,2000})\)$")
HTML_TAG_RE = re.compile(r"<(?:p|div|br|img|h[1-6]|span|strong|b|table|section|article|a|ul|ol|li)[\s/>]",
                         re.IGNORECASE)
HTML_DOC_RE = re.compile(r"<(?:html|head|body|!doctype html)[\s>]", re.IGNORECASE)
NON_WORD_RE = re.compile(r"[\W_]+")
HEADER_YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)")
MONTH_DAY_RE = re.compile(r"^\s*(?P<m>[01]?\d)\s*月\s*(?P<d>[0-3]?\d)\s*[日号]")
CN_NUMERAL_RE = re.compile(r"[一二三四五六七八九十]{1,3}")
CIRCLED_RE = re.compile(r"[①-⑳]")
RULE_LINE_RE = re.compile(r"^(?:[-=*_~—－＝]\s*){3,}$")   # a thematic break, or a setext underline
# What a date line is made of: digits, numerals, date words, weekdays, separators.
DATE_CHARS_RE = re.compile(r"[\d〇零一二三四五六七八九十年月日号时分秒星期周天:：/.\-\s()（）,，]")
SPACE_RE = re.compile(r"[ \t\u3000\xa0]+")
HEADING_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
BLOCK_TAGS = HEADING_TAGS | {"p", "div", "section", "article", "li", "ul", "ol", "blockquote", "td", "th", "tr",
                             "table", "tbody", "thead", "pre", "header", "footer", "main", "figure", "figcaption",
                             "dl", "dt", "dd", "center", "aside", "nav"}
# Never story text: scripts and the page's furniture (its navigation, side column and footer).
UNSEEN_TAGS = {"script", "style", "noscript", "iframe", "template", "head", "title", "meta", "link", "nav", "aside",
               "footer", "form", "button", "select"}
BOLD_TAGS = {"strong", "b"}
LEAF_TAGS = HEADING_TAGS | {"p"}
PARSER = lxml.html.HTMLParser(encoding="utf-8")
MARKED_LEVEL = 6      # lines marked as headlines in plain text (【标题】, 标题：…): the deepest real level
BOLD_LEVEL = 7        # bold-only lines: a heading level below every real one
NUMBERED_LEVEL = 8    # numbered items ("1. 标题", "TOP3 标题")
MAX_TITLE_CHARS = 80
SUMMARY_LINE_CHARS = 60     # a list of headlines has short lines; a story's paragraphs are longer
LINK_DENSITY = 0.6          # a line whose text is this much link text is a link, not story text
LINKED_STORY_CHARS = 200    # a section linked only by its heading is a teaser unless this long
MAX_INTRO_CHARS = 200   # text before a section's items longer than this is a story, not an introduction


@dataclass
class Element:
    """One line of a document's outline."""

    kind: str                 # heading | bold | para | link | image | date | rule (a break between stories)
    text: str
    level: int = 0            # headings 1-6
    url: str | None = None
    where: str = ""           # in a whole HTML page: the XPath of the block it came from


@dataclass
class DigestStory:
    title: str
    blocks: list[str]
    url: str | None = None
    date: str | None = None
    date_note: str | None = None
    source: str | None = None


@dataclass
class Digest:
    stories: list[DigestStory]
    level: str                # how the stories were found, for the report: "### headings", "numbered items"
    summaries: int = 0        # summary lists skipped (not stories)


@dataclass(eq=False)
class Rules:
    min_sections: int
    min_story_chars: int
    min_linked_sections: int
    story_share: float
    digest_title: re.Pattern[str]
    item_section: re.Pattern[str]
    summary_heading: re.Pattern[str]
    source_link: re.Pattern[str]
    furniture: re.Pattern[str]
    datelines: list[re.Pattern[str]]
    column_tag: re.Pattern[str]
    profile_headline: re.Pattern[str]
    numbered_item: re.Pattern[str]
    link_date: re.Pattern[str]
    header_date: re.Pattern[str]
    headline_label: re.Pattern[str]
    list_announcement: re.Pattern[str]
    wrapped_headline: re.Pattern[str]


def _any(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns) if patterns else r"(?!)", re.IGNORECASE)


@lru_cache(maxsize=4)
def rules(data: Data) -> Rules:
    d = data.digest
    return Rules(
        min_sections=int(d.get("min_sections", 3)), min_story_chars=int(d.get("min_story_chars", 60)),
        min_linked_sections=int(d.get("min_linked_sections", 2)), story_share=float(d.get("story_share", 0.6)),
        digest_title=_any(d.get("digest_titles", [])), item_section=_any(d.get("item_sections", [])),
        summary_heading=_any(d.get("summary_headings", [])),
        source_link=re.compile(rf"^\s*(?:{_any(d.get('source_links', [])).pattern})\s*[>»›]*\s*$"),
        furniture=_any(d.get("furniture_lines", [])), datelines=[re.compile(p) for p in d.get("datelines", [])],
        column_tag=re.compile(d.get("column_tag", r"(?!)")), profile_headline=re.compile(d.get("profile_headline", r"(?!)")),
        numbered_item=re.compile(d.get("numbered_item", r"(?!)"), re.IGNORECASE),
        link_date=re.compile(d.get("link_date", r"(?!)")), header_date=re.compile(d.get("header_date", r"(?!)")),
        list_announcement=_any(d.get("list_announcement", [])),
        headline_label=re.compile(d.get("headline_label", r"(?!)"), re.IGNORECASE),
        wrapped_headline=re.compile(d.get("wrapped_headline", r"(?!)")))


# --- the outline -------------------------------------------------------------------------


def _clean(text: str) -> str:
    return SPACE_RE.sub(" ", text).strip()


def _is_bold(element: lxml.html.HtmlElement) -> bool:
    if element.tag in BOLD_TAGS:
        return True
    style = (element.get("style") or "").replace(" ", "").lower()
    return "font-weight:bold" in style or "font-weight:700" in style or "font-weight:600" in style


def _bold_only(node: lxml.html.HtmlElement) -> bool:
    """All of the node's visible text is bold: inside <strong>/<b> or a bold-styled span, at
    any depth (WeChat writes <p><span><strong>标题</strong></span></p>)."""
    has_bold = False
    bold_depth: dict[lxml.html.HtmlElement, bool] = {node: _is_bold(node)}
    for element in node.iterdescendants():
        if not isinstance(element.tag, str):
            continue
        parent = element.getparent()
        bold_depth[element] = bold_depth.get(parent, False) or _is_bold(element)
    for element, bold in bold_depth.items():
        if (element.text or "").strip():
            if not bold:
                return False
            has_bold = True
        if element is not node and (element.tail or "").strip() and not bold_depth.get(element.getparent(), False):
            return False
    return has_bold


def _leaf(node: lxml.html.HtmlElement, out: list[Element]) -> None:
    for img in node.iter("img"):
        src = img.get("src") or img.get("data-src")
        if src and safe_url(src, allow_relative=False):
            out.append(Element("image", _clean(img.get("alt") or ""), url=src))
    text = _clean("".join(node.itertext()))
    if not text:
        return
    if node.tag in HEADING_TAGS:
        link = next(node.iter("a"), None)
        out.append(Element("heading", text, level=int(node.tag[1]), url=link.get("href") if link is not None else None))
        return
    links = [a for a in node.iter("a") if a.get("href")]
    link_chars = sum(len(_clean("".join(a.itertext()))) for a in links)
    if links and link_chars >= LINK_DENSITY * len(text):
        # A line that is mostly link text is navigation (or the story's source link).
        out.append(Element("link", text, url=links[0].get("href")))
    elif _bold_only(node):
        out.append(Element("bold", text))
    else:
        out.append(Element("para", text))


def _containers(root: lxml.html.HtmlElement) -> set[lxml.html.HtmlElement]:
    """Every element holding a block element somewhere below it, found in one pass (a
    hostile page nested thousands deep costs no more than a flat one)."""
    marked: set[lxml.html.HtmlElement] = set()
    for element in root.iter(*BLOCK_TAGS):
        parent = element.getparent()
        while parent is not None and parent not in marked:
            marked.add(parent)
            parent = parent.getparent()
    return marked


def _walk(node: lxml.html.HtmlElement, out: list[Element], containers: set[lxml.html.HtmlElement],
          tree: lxml.etree._ElementTree | None = None) -> None:
    tag = node.tag if isinstance(node.tag, str) else ""
    if tag in UNSEEN_TAGS or not tag:
        return
    if tag in LEAF_TAGS or node not in containers:
        start = len(out)
        _leaf(node, out)
        if tree is not None:
            where = tree.getpath(node)
            for element in out[start:]:
                element.where = where
        return
    if (node.text or "").strip():
        out.append(Element("para", _clean(node.text or "")))
    for child in node:
        if isinstance(child.tag, str) and (child.tag in BLOCK_TAGS or child in containers):
            _walk(child, out, containers, tree)
        elif isinstance(child.tag, str) and child.tag not in UNSEEN_TAGS and (
                text := _clean("".join(child.itertext()))):
            out.append(Element("bold" if child.tag in BOLD_TAGS else "para", text))
        if (child.tail or "").strip():
            out.append(Element("para", _clean(child.tail or "")))


def html_outline(html: str) -> list[Element]:
    """The outline of an HTML page or fragment, in document order."""
    out: list[Element] = []
    try:
        if HTML_DOC_RE.search(html[:5000]):
            nodes: list = [lxml.html.document_fromstring(html.encode("utf-8"), parser=PARSER)]
        else:
            nodes = lxml.html.fragments_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return out
    for node in nodes:
        if isinstance(node, str):
            if node.strip():
                out.append(Element("para", _clean(node)))
        elif node.tag in LEAF_TAGS:
            _leaf(node, out)      # an HTML parser closes <p> before any block: nothing to walk
        else:
            _walk(node, out, _containers(node), node.getroottree() if len(nodes) == 1 and HTML_DOC_RE.search(
                html[:5000]) else None)
    return out


def markdown_outline(text: str) -> list[Element]:
    """The outline of a Markdown document; a line of HTML inside it is read as HTML."""
    out: list[Element] = []
    previous = ""
    for raw in text.split("\n"):
        line, after = raw.strip(), previous
        previous = line
        if not line:
            continue
        if RULE_LINE_RE.match(line):
            # Under a line of text, === and --- make it a heading (setext); alone, a break
            # between stories, not text of either.
            if after and out and out[-1].kind in ("para", "bold") and line[0] in "=-＝－":
                out[-1] = Element("heading", out[-1].text, level=1 if line[0] in "=＝" else 2)
            else:
                out.append(Element("rule", ""))
            continue
        if match := MD_HEADING_RE.match(line):
            title = match.group(2).rstrip(" \t#") or match.group(2).strip()
            link = MD_HEADING_LINK_RE.match(title)
            out.append(Element("heading", _clean(link.group("text") if link else title.strip("*_ ")),
                               level=len(match.group(1)), url=link.group("url") if link else None))
        elif match := MD_LINK_LINE_RE.match(line):
            out.append(Element("link", _clean(match.group("text")), url=match.group("url")))
        elif match := MD_IMAGE_LINE_RE.match(line):
            out.append(Element("image", _clean(match.group("alt")), url=match.group("url")))
        elif match := MD_BOLD_LINE_RE.match(line):
            out.append(Element("bold", _clean(match.group("text"))))
        elif HTML_TAG_RE.search(line):
            out.extend(html_outline(line))
        elif match := LABELLED_URL_RE.match(line):
            out.append(Element("link", _clean(match.group("label")), url=match.group("url")))
        else:
            out.append(Element("para", _clean(line)))
    return out


def is_markdown(text: str) -> bool:
    """A document whose structure is Markdown headings (HTML may appear inside it)."""
    head = text[:5000]
    return not HTML_DOC_RE.search(head) and len(re.findall(r"(?m)^#{1,6}[ \t]+\S", text[:200_000])) >= 2


# --- sections ----------------------------------------------------------------------------


@dataclass
class Section:
    head: Element
    body: list[Element] = field(default_factory=list)
    number: int | None = None

    def text_chars(self) -> int:
        return sum(len(e.text) for e in self.body if e.kind in ("para", "bold"))

    def own_link(self, r: Rules) -> str | None:
        """The address of the section's own page: a source-link line (查看原文, 阅读原文), or
        the heading's link when the section is a whole story (a teaser list of linked
        headlines with a line of summary each is a page's side column, not a digest)."""
        for e in self.body:
            if e.kind == "link" and e.url and r.source_link.match(e.text):
                return e.url
        if self.head.url and self.text_chars() >= LINKED_STORY_CHARS:
            return self.head.url
        return None


def _norm(text: str) -> str:
    return NON_WORD_RE.sub("", text)


@lru_cache(maxsize=4096)
def _bigrams(text: str) -> frozenset[str]:
    text = _norm(text)
    return frozenset(text[i:i + 2] for i in range(len(text) - 1))


def _heads_at(elements: list[Element], level: int, r: Rules) -> list[int]:
    if level <= 6:
        return [i for i, e in enumerate(elements) if e.kind == "heading" and e.level == level]
    if level == BOLD_LEVEL:
        return [i for i, e in enumerate(elements) if e.kind == "bold" and _headline_like(e.text)]
    return _numbered_heads(elements, r)


def _headline_like(text: str) -> bool:
    return 4 <= len(text) <= MAX_TITLE_CHARS and not text.endswith(("。", "，", ",", "；", ";", "."))


def _item_number(text: str) -> int | None:
    digits = re.search(r"\d{1,2}", text)
    if digits:
        return int(digits.group(0))
    if circled := CIRCLED_RE.search(text):   # ① … ⑳
        return ord(circled.group(0)) - ord("①") + 1
    numeral = CN_NUMERAL_RE.search(text)     # 一、 二、 … 十二、
    return dates.cn_number(numeral.group(0)) if numeral else None


def _is_date_line(text: str, r: Rules) -> bool:
    """A line that is only a date (the header's `2019年3月5日`, `2019-03-05 星期二`,
    `20190305`, a weekly digest's `3月5日`): a date, never a headline."""
    if len(text) > 40 or not (dates.find_dateline(text) or r.header_date.search(text) or MONTH_DAY_RE.match(text)):
        return False
    return len(DATE_CHARS_RE.sub("", text)) <= 4


def _line_date(text: str, year_of: str | None, r: Rules) -> str | None:
    """The day a date line names; a line without a year (`3月5日`) takes the year of the
    document's header, never one guessed from elsewhere."""
    found = dates.find_full_date(text) or next(
        (b for m in r.header_date.finditer(text) if (b := dates.build_day(int(m["y"]), int(m["m"]), int(m["d"])))),
        None)
    if found:
        return found[:10]
    match = MONTH_DAY_RE.match(text)
    if match and year_of:
        return dates.build_day(int(year_of[:4]), int(match["m"]), int(match["d"]))
    return None


def _header_year(elements: list[Element], doc_title: str) -> str | None:
    """The year the document's header names on its own (`2019年一周要闻`), for date lines
    without one."""
    for line in [doc_title, *(e.text for e in elements[:12])]:
        if match := HEADER_YEAR_RE.search(line or ""):
            return match.group(1)
    return None


def _group_dates(elements: list[Element], sections: list[Section], container: str | None,
                 r: Rules) -> list[str | None]:
    """The date in force at each section: a date line styled as a heading between stories
    (a weekly digest's `## 3月5日`) dates the stories after it; one right under a story's
    headline is that story's own date line."""
    heads = {id(s.head) for s in sections}
    position = {id(s.head): i for i, s in enumerate(sections)}
    in_force, out = container, [container] * len(sections)
    for i, e in enumerate(elements):
        if id(e) in heads:
            out[position[id(e)]] = in_force
        elif e.kind == "date" and not (i > 0 and id(elements[i - 1]) in heads):
            in_force = _line_date(e.text, container, r) or in_force
    return out


def _headline_lines(elements: list[Element], r: Rules) -> list[Element]:
    """Lines whose shape marks them as headlines in any markup (a labelled `标题：…` line, a
    headline wrapped whole in 【】) are headings one level above bold lines (in a text dump,
    any short line looks bold: a signed article's subtitle, a round-up's items); a line that
    is only a date is a date, not a headline."""
    out: list[Element] = []
    for e in elements:
        marked = e.kind in ("para", "bold") and (r.headline_label.match(e.text) or r.wrapped_headline.match(e.text))
        if marked and _is_date_line(marked.group("title"), r):
            out.append(Element("date", _clean(marked.group("title")), where=e.where))     # 【2019年3月5日】
        elif marked:
            out.append(Element("heading", _clean(marked.group("title")), level=MARKED_LEVEL, where=e.where))
        elif e.kind == "para" and out and out[-1].kind == "rule" and _headline_like(e.text) \
                and not re.search(r"[。！？!?]$", e.text):
            out.append(Element("bold", e.text, where=e.where))     # the first line after a break
        elif e.kind in ("bold", "heading") and _is_date_line(e.text, r):
            out.append(Element("date", e.text, where=e.where))
        else:
            out.append(e)
    return out


def _numbered_heads(elements: list[Element], r: Rules, *, arabic_only: bool = False) -> list[int]:
    """Numbered headline lines counting 1, 2, 3 … or down to 1 (TOP10 … TOP1): the numbering
    is the digest's own. The longer of the two runs. `arabic_only` leaves out 一、二、三、,
    which number an article's own parts as often as a digest's items."""
    found: list[tuple[int, int]] = []
    for i, e in enumerate(elements):
        if e.kind not in ("para", "bold", "heading") or not (m := r.numbered_item.match(e.text)):
            continue
        if not _headline_like(m.group("title")) or m.group("title").endswith(("：", ":")):
            continue
        number = _item_number(e.text[:m.start("title")])
        if number is not None and not (arabic_only and not re.search(r"\d", e.text[:m.start("title")])):
            found.append((i, number))
    return max(_run(found, step=1), _run(found, step=-1), key=len)


def _run(found: list[tuple[int, int]], *, step: int) -> list[int]:
    """Positions of the first run counting by `step` (up from 1, or down to 1)."""
    heads: list[int] = []
    expected: int | None = None
    for i, number in found:
        if expected is None:
            if (step == 1 and number == 1) or (step == -1 and number >= 2):
                heads, expected = [i], number + step
        elif number == expected:
            heads.append(i)
            expected = number + step
            if expected == 0:
                break
    if step == -1 and expected != 0:
        return []          # a countdown must reach 1
    return heads


def _sections(elements: list[Element], level: int, heads: list[int]) -> list[Section]:
    sections = []
    for n, start in enumerate(heads):
        end = heads[n + 1] if n + 1 < len(heads) else len(elements)
        if level <= 6:
            for j in range(start + 1, end):
                if elements[j].kind == "heading" and elements[j].level <= level:
                    end = j
                    break
        sections.append(Section(elements[start], elements[start + 1:end]))
    return sections


def _is_summary(section_text: str, headings: list[str]) -> bool:
    """A list that repeats most of the other headings (a table of contents) is not a story."""
    if len(headings) < 2 or len(section_text) > 3 * sum(len(h) for h in headings) + 400:
        return False   # far longer than the headlines it would list: a story
    grams = _bigrams(section_text)
    if not grams:
        return False
    covered = 0
    for heading in headings:
        own = _bigrams(heading)
        if own and len(own & grams) / len(own) >= 0.7:
            covered += 1
    total_heading_chars = sum(len(_norm(h)) for h in headings)
    return covered >= max(3, len(headings) // 2) and len(_norm(section_text)) <= 3 * total_heading_chars + 200


def _signals(doc_title: str, sections: list[Section], elements: list[Element], r: Rules, level: int,
             first: int) -> list[str]:
    found = []
    linked = sum(1 for s in sections if s.own_link(r))
    if linked >= max(r.min_linked_sections, (len(sections) + 1) // 2):
        found.append("each section links its own page")
    if doc_title and r.digest_title.search(doc_title):
        found.append(f"the document is a digest ({doc_title[:30]})")
    heads = [s.head.text for s in sections]
    preamble = " ".join(e.text for e in elements[:first] if e.kind != "heading" or e.level > 2)
    if _is_summary(preamble, heads) or any(r.summary_heading.search(s.head.text) for s in sections):
        found.append("a summary list repeats the headings")
    leads = [next((e.text for e in s.body if e.kind in ("para", "bold")), "") for s in sections]
    if sum(1 for lead in leads if any(p.match(lead) for p in r.datelines)) >= max(2, len(sections) // 2):
        found.append("sections open with a dateline")
    if (level == NUMBERED_LEVEL and all(re.search(r"\d", s.head.text[:8]) for s in sections)
            and not r.list_announcement.search(f"{doc_title}\n{preamble}")):
        # Arabic numbering (1. 2. 3., TOP10) is a digest's, unless the text announces a list
        # of its own points (这几个小窍门); 一、二、三、 also numbers an article's parts, so
        # it needs another signal.
        found.append("consecutively numbered items")
    return found


def _level_name(level: int) -> str:
    if level <= 6:
        return f"level-{level} headings"
    return "bold-only lines" if level == BOLD_LEVEL else "numbered items"


def _story_level(elements: list[Element], doc_title: str, r: Rules) -> tuple[int, list[Section]] | None:
    """The shallowest heading level whose sections are stories, with a digest signal."""
    # Numbered items before bold lines: counting 1, 2, 3 is the stronger mark of a digest's own
    # items (bold lines inside its items are their sub-headings).
    levels = [*sorted({e.level for e in elements if e.kind == "heading"}), NUMBERED_LEVEL, BOLD_LEVEL]
    total_chars = sum(len(e.text) for e in elements if e.kind in ("para", "bold"))
    for level in levels:
        heads = _heads_at(elements, level, r)
        if len(heads) < 2:
            continue
        sections = _sections(elements, level, heads)
        # A headline whose section holds no text (a video item) is a story without text: it
        # neither makes nor breaks a level.
        candidates = [s for s in sections if not r.summary_heading.search(s.head.text) and s.text_chars()]
        sized = [s for s in candidates if s.text_chars() >= r.min_story_chars]
        if not candidates or len(sized) / len(candidates) < r.story_share:
            continue
        if sum(s.text_chars() for s in candidates) < 0.5 * total_chars:
            continue   # the sections are a page's side column, not the page's text
        signals = _signals(doc_title, sections, elements, r, level, heads[0])
        linked_all = all(s.own_link(r) for s in candidates)
        if not signals:
            continue
        if level == NUMBERED_LEVEL and len(sized) < len(candidates):
            continue   # numbered headings of one article: some items are not stories of their own
        if len(sized) >= r.min_sections or (linked_all and len(sized) >= r.min_linked_sections):
            return level, sections
    return None


# --- stories -----------------------------------------------------------------------------


def editor_title(text: str, r: Rules) -> str:
    """A heading as an editor writes it: no broadcast prefix, no column tag in front of a
    headline that stands on its own, no trailing list punctuation."""
    title = _clean(text)
    if match := r.headline_label.match(title) or r.wrapped_headline.match(title):
        title = _clean(match.group("title"))
    for pattern in r.datelines:
        stripped = pattern.sub("", title, count=1)
        if stripped != title and len(stripped) >= 4:
            title = stripped
            break
    if numbered := r.numbered_item.match(title):
        title = numbered.group("title")
    match = r.column_tag.match(title)
    if match:
        rest, tag = title[match.end():].strip(), (match.group("tag") or match.group("tag2") or "").strip()
        # 【大美中国】西藏: a headline too short to stand alone keeps its column as a prefix.
        title = rest if len(rest) >= 4 else f"{tag}：{rest}" if rest else tag
    if numbered := r.numbered_item.match(title):
        title = numbered.group("title")
    return title.rstrip("：:；;，,、 ").strip()[:MAX_TITLE_CHARS] or _clean(text)[:MAX_TITLE_CHARS]


def _strip_dateline(text: str, r: Rules) -> tuple[str, str | None]:
    for pattern in r.datelines:
        match = pattern.match(text)
        if match:
            return text[match.end():].strip(), match.groupdict().get("source")
    return text, None


def _inner_items(section: Section, r: Rules) -> list[int]:
    """Positions of the section's own sub-headlines, when the section is a round-up of items
    or pairs profiles under one heading; else none."""
    body = section.body
    heading = _norm(section.head.text)
    heads = [i for i, e in enumerate(body) if (e.kind == "bold" or (e.kind == "heading" and e.level > section.head.level)
                                                or _repeats_heading(e, heading, r))
             and _headline_like(e.text)]
    if len(heads) < 2:
        heads = [i for i in _numbered_heads(body, r) if body[i].kind == "para"]
        if len(heads) < 2:
            return []
    titles = [body[i].text for i in heads]
    round_up = bool(r.item_section.search(section.head.text))
    paired = sum(1 for t in titles if len(_norm(t)) >= 4 and _norm(t) in heading) >= 2
    # "Name：headline" items under a heading that names neither are profiles only when the
    # text before them is a short introduction; after a story of its own they are its quotes.
    lead_chars = sum(len(e.text) for e in body[:heads[0]] if e.kind == "para")
    profiles = all(r.profile_headline.match(t) for t in titles) and lead_chars < MAX_INTRO_CHARS
    if not (round_up or paired or profiles):
        return []
    if paired and not round_up:
        heads = [i for i in heads if _norm(body[i].text) in heading]
    ends = [*heads[1:], len(body)]
    sized = [h for h, end in zip(heads, ends, strict=True)
             if sum(len(e.text) for e in body[h + 1:end] if e.kind == "para") >= r.min_story_chars // 2]
    return heads if len(sized) >= 2 else []


def _repeats_heading(e: Element, heading: str, r: Rules) -> bool:
    """A plain line that repeats a subject's headline from its section's heading (a text dump
    of paired profiles has lost the bold that marked it)."""
    return e.kind == "para" and bool(r.profile_headline.match(e.text)) and len(_norm(e.text)) >= 6 \
        and _norm(e.text) in heading


def _blocks(elements: list[Element], r: Rules) -> tuple[list[str], str | None]:
    """Markdown blocks of a story's elements, and the publisher its dateline names. Lines that
    are links (its source link, a page's navigation and teaser lists) are not its text."""
    blocks: list[str] = []
    source = None
    for e in elements:
        if r.furniture.match(e.text):
            continue
        if e.kind == "para":
            text = e.text
            if not blocks:
                text, source = _strip_dateline(text, r)
            if text:
                blocks.append(text)
        elif e.kind in ("bold", "heading"):
            blocks.append(f"## {e.text}")
        elif e.kind == "image" and e.url and safe_url(e.url, allow_relative=False) and not re.search(r"[\s()<>]", e.url):
            alt = re.sub(r"[\[\]]", "", e.text)   # brackets would end the image's Markdown early
            blocks.append(f"![{alt}]({e.url})")
    while blocks and blocks[-1].startswith("## "):
        blocks.pop()
    return blocks, source


def _date_of(url: str | None, r: Rules) -> str | None:
    if not url:
        return None
    for match in r.link_date.finditer(url):
        built = dates.build_day(int(match["y"]), int(match["m"]), int(match["d"]))
        if built:
            return built
    return None


def header_date(elements: list[Element], doc_title: str, r: Rules) -> str | None:
    """The document's own date: in its title or the lines before its first story."""
    lines = [doc_title, *(e.text for e in elements[:12] if e.kind in ("heading", "para", "bold", "date"))]
    for line in lines:
        if not line:
            continue
        found = dates.find_full_date(line)
        if found:
            return found[:10]
        for match in r.header_date.finditer(line):
            built = dates.build_day(int(match["y"]), int(match["m"]), int(match["d"]))
            if built:
                return built
    return None


def _story(title: str, elements: list[Element], url: str | None, container_date: str | None,
           r: Rules) -> DigestStory:
    """A story dated by its own date line (发布时间：…), else its own page's address, else the
    document it came in (both with a review note), else not at all."""
    blocks, source = _blocks(elements, r)
    safe = safe_url(url, allow_relative=False) if url else None
    stated = dates.find_labelled_date([e.text for e in elements[:4] if e.kind in ("para", "bold")])
    if not stated and elements and elements[0].kind == "date":
        stated = _line_date(elements[0].text, container_date, r)    # the date line under its headline
    if stated:
        return DigestStory(title, blocks, safe, stated, None, source)
    own = _date_of(safe, r)
    if own:
        note = f"date: taken from the address of the story's own page ({safe}); confirm it"
        return DigestStory(title, blocks, safe, own, note, source)
    if container_date:
        note = (f"date: the story states none; {container_date} is the date of the document it came in; "
                "confirm it")
        return DigestStory(title, blocks, safe, container_date, note, source)
    return DigestStory(title, blocks, safe, None, None, source)


def _section_stories(section: Section, container_date: str | None, r: Rules) -> list[DigestStory]:
    url = section.own_link(r)
    items = _inner_items(section, r)
    if not items:
        return [_story(editor_title(section.head.text, r), section.body, url, container_date, r)]
    # The text before the first item introduces the items (央视网消息：, 我们来认识 A、B) when
    # the heading is the items' own (a round-up's label, the pair's two headlines); under a
    # headline of its own, it is that headline's story and the items follow it.
    stories: list[DigestStory] = []
    lead = section.body[:items[0]]
    lead_blocks, source = _blocks(lead, r)
    heading = _norm(section.head.text)
    own_heading = not r.item_section.search(section.head.text) and not any(
        _norm(section.body[i].text) in heading for i in items)
    if own_heading and sum(len(b) for b in lead_blocks) >= r.min_story_chars:
        stories.append(_story(editor_title(section.head.text, r), lead, url, container_date, r))
    ends = [*items[1:], len(section.body)]
    for start, end in zip(items, ends, strict=True):
        item_title = editor_title(section.body[start].text, r)
        item = _story(item_title, section.body[start + 1:end], url, container_date, r)
        item.source = item.source or source   # the section's dateline names the items' publisher
        stories.append(item)
    return stories


def numbered_items(blocks: list[str], data: Data) -> list[tuple[str, list[str]]] | None:
    """A story's Markdown blocks as a numbered digest (TOP1 …, 1. …, 【3】 …): each item's
    headline and blocks, when at least `min_sections` items count 1, 2, 3 and each has
    story-sized text; else None (numbered headings of one article)."""
    r = rules(data)
    elements = [Element("para", block.lstrip("#").strip()) for block in blocks]
    heads = _numbered_heads(elements, r, arabic_only=True)
    if len(heads) < r.min_sections or r.list_announcement.search("\n".join(blocks[:heads[0]])):
        return None
    ends = [*heads[1:], len(blocks)]
    if any(sum(len(b) for b in blocks[a + 1:b]) < r.min_story_chars for a, b in zip(heads, ends, strict=True)):
        return None
    items = []
    for start, end in zip(heads, ends, strict=True):
        match = r.numbered_item.match(elements[start].text)
        items.append((match.group("title").strip() if match else elements[start].text, blocks[start + 1:end]))
    return items


def _within_container(sections: list[Section]) -> list[Section]:
    """On a whole HTML page, a story is what lies inside the block holding all the story
    headings: a side column or footer after the last story is not its text."""
    paths = [s.head.where.split("/")[:-1] for s in sections]
    if not all(paths):
        return sections
    common: list[str] = []
    for parts in zip(*paths, strict=False):
        if any(p != parts[0] for p in parts):
            break
        common.append(parts[0])
    prefix = "/".join(common) + "/"
    if prefix.count("/") <= 2:      # /html/body/: the whole page
        return sections
    for section in sections:
        section.body = [e for e in section.body if not e.where or e.where.startswith(prefix)]
    return sections


def find_stories(elements: list[Element], doc_title: str, data: Data,
                 declared_date: str | None = None) -> Digest | None:
    """The stories of a digest-shaped outline, in order; None when the outline is one story.
    `declared_date` is the date the document declares about itself (front matter, a feed
    item's date): its stories' container date when its header states none."""
    r = rules(data)
    elements = _headline_lines([e for e in elements if not r.furniture.match(e.text)], r)
    found = _story_level(elements, doc_title, r)
    if found is None:
        return None
    level, sections = found
    title = doc_title or next((e.text for e in elements if e.kind == "heading"), "")
    # The document's header: its title and what comes before the first story (a date inside
    # a story is that story's own).
    first = next(i for i, e in enumerate(elements) if e is sections[0].head)
    container = header_date(elements[:first], title, r) or (declared_date[:10] if declared_date else None)
    year = container or _header_year(elements[:first], title)
    in_force = _group_dates(elements, sections, year, r)
    sections = _within_container(sections)
    headings = [s.head.text for s in sections]
    stories: list[DigestStory] = []
    summaries = 0
    for section, day in zip(sections, in_force, strict=True):
        others = [h for h in headings if h != section.head.text]
        lines = [e.text for e in section.body if e.kind == "para"]
        listing = bool(lines) and sum(map(len, lines)) <= SUMMARY_LINE_CHARS * len(lines)
        if r.summary_heading.search(section.head.text) or (listing and _is_summary(" ".join(lines), others)):
            summaries += 1
            continue
        if r.item_section.search(section.head.text) and section.text_chars() and not _blocks(section.body, r)[0]:
            continue    # a round-up's label (【国内联播快讯】, 央视网消息：) over items set at its own level
        stories.extend(_section_stories(section, day if day != year or container else None, r))
    if len(stories) < 2:
        return None
    return Digest(stories, _level_name(level), summaries)


def document_title(text: str, meta: dict) -> str:
    """What the document calls itself: its front matter's title, <title>, or first heading."""
    if meta.get("title"):
        return str(meta["title"])
    match = re.search(r"<title[^<>]*>([^<]{1,200})</title>", text[:20000], re.IGNORECASE)
    if match:
        return _clean(match.group(1))
    match = re.search(r"(?m)^#[ \t]+(.+)$", text[:5000])
    if match:
        return _clean(match.group(1))
    match = re.search(r"<h1[^<>]*>(.{1,400}?)</h1>", text[:50000], re.IGNORECASE | re.DOTALL)
    return _clean(re.sub(r"<[^>]+>", "", match.group(1))) if match else ""
