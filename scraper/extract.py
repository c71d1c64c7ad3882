"""A whole news page to its article: the body HTML and the page-level metadata.

Per-site rules (sites.yaml: content selectors, dropped selectors) are tried first.
Otherwise three extractors each propose the article — trafilatura (precision mode),
readability-lxml and Casebook's own Chinese text-density finder (scraper/density.py) — and
the proposal that agrees most with the other two (the medoid by character 4-gram F1) wins:
each extractor fails on different pages, and two rarely fail the same way. Metadata
comes from the page's own declarations (og:title, h1, article:published_time,
WeChat's msg_title and ct) before the generic extractor's guesses.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import lxml.etree
import lxml.html
import trafilatura
from readability import Document as ReadabilityDocument
from readability.readability import Unparseable

from casebook.data import Data
from casebook.errors import ExtractionError
from scraper import density
from scraper.dates import DateEvidence, find_dateline, parse_date_value

# The title is bounded (500 characters): an unbounded lazy .*? rescans the rest of the line
# from every "var msg_title" of a hostile page.
WECHAT_TITLE_RE = re.compile(r"""var\s++msg_title\s*+=\s*+['"](?P<t>[^\n]{0,500}?)['"]\s*+(?:\.html\(false\))?\s*+;""")
WECHAT_TIME_RE = re.compile(r"""\bct\s*=\s*["'](?P<ts>\d{10})["']""")
JSONLD_RE = re.compile(r"""<script[^<>]+type\s*=\s*["']application/ld\+json["'][^>]*>(?P<j>.*?)</script>""",
                       re.IGNORECASE | re.DOTALL)
MAX_JSONLD_CHARS = 100_000
MIN_BODY_CHARS = 80


@dataclass
class PageArticle:
    html: str
    title: str | None
    date: str | None
    url: str | None
    description: str | None
    lines: list[str]          # the page's visible text lines, for 来源/发布时间 rules
    date_evidence: DateEvidence | None = None


META_KEYS = ("property", "name", "itemprop")
UNSEEN_TAGS = ("script", "style", "noscript", "iframe", "template")
PAGE_PARSER = lxml.html.HTMLParser(encoding="utf-8")


def parse_page(html: str) -> lxml.html.HtmlElement:
    """The page as an lxml tree (bytes in: a page whose text still declares its original
    encoding in an XML prolog would be refused as a str). An empty page is an empty tree."""
    try:
        return lxml.html.document_fromstring(html.encode("utf-8"), parser=PAGE_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


class PageMeta:
    """The page's <meta> declarations, read in one pass: for each (attribute, value), the
    content of the first tag that declares it."""

    def __init__(self, root: lxml.html.HtmlElement) -> None:
        self.first: dict[tuple[str, str], str] = {}
        for tag in root.iter("meta"):
            for key in META_KEYS:
                if (value := tag.get(key)) is not None:
                    self.first.setdefault((key, value), tag.get("content") or "")

    def get(self, *names: str) -> str | None:
        """The first of `names` declared with a non-empty content (property, then name, then itemprop)."""
        for name in names:
            for key in META_KEYS:
                if (key, name) in self.first:
                    if content := self.first[(key, name)].strip():
                        return content
                    break
        return None


def _text(node: lxml.html.HtmlElement, separator: str) -> str:
    return separator.join(part.strip() for part in node.itertext() if part.strip())


def _first_text(root: lxml.html.HtmlElement, tag: str) -> str | None:
    found = next(root.iter(tag), None)
    return _text(found, " ") if found is not None else None


def _canonical(root: lxml.html.HtmlElement) -> str | None:
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split():
            return link.get("href")
    return None


def _site_content(root: lxml.html.HtmlElement, site: dict | None) -> str | None:
    if not site:
        return None
    for selector in site.get("drop", []):
        for node in root.cssselect(selector):   # checked when the data files load
            if node.getparent() is not None:   # a rule that names the whole page drops nothing
                node.drop_tree()
    for selector in site.get("content", []):
        for node in root.cssselect(selector):
            if len(_text(node, "")) >= MIN_BODY_CHARS:
                return lxml.html.tostring(node, encoding="unicode", with_tail=False)
    return None


# libxml2 stops reading a page nested deeper than 255 elements, silently: the rest of the page is
# lost to every extractor. No real page nests that deep, so such a page is refused with a reason.
MAX_PAGE_DEPTH = 250


def check_depth(root: lxml.html.HtmlElement, source: str | None) -> None:
    # One absolute path of MAX_PAGE_DEPTH steps: each step keeps only the elements of one
    # level, so this reads the tree once.
    if root.xpath("/*" * MAX_PAGE_DEPTH):
        raise ExtractionError(f"the page's markup is nested more than {MAX_PAGE_DEPTH} elements deep, where the "
                              "HTML parser stops reading", source=source,
                              hint="the page is malformed or hostile; save the article text instead")


def _jsonld_dates(html: str, keys: list[str]) -> list[tuple[str, str]]:
    """(key, value) of publication dates declared in the page's JSON-LD blocks."""
    found: list[tuple[str, str]] = []

    def walk(node: object, depth: int) -> None:
        if depth > 8:
            return
        if isinstance(node, dict):
            found.extend((k, str(node[k])) for k in keys if isinstance(node.get(k), str | int))
            for value in node.values():
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node[:50]:
                walk(value, depth + 1)

    for match in JSONLD_RE.finditer(html[:2_000_000]):
        text = match.group("j").strip()
        if len(text) > MAX_JSONLD_CHARS:
            continue
        try:
            walk(json.loads(text), 0)
        except ValueError:   # a broken block is furniture like any other: the next evidence counts
            continue
    return found


def structured_date(html: str, root: lxml.html.HtmlElement, meta: PageMeta, rules: dict) -> DateEvidence | None:
    """The date the page declares for machines: meta tags, JSON-LD, <time datetime>, WeChat's ct."""
    for name in rules.get("meta_names", []):
        if (value := meta.get(name)) and (iso := parse_date_value(value)):
            return DateEvidence(iso, "structured", f"meta {name}")
    for key, value in _jsonld_dates(html, rules.get("jsonld_keys", [])):
        if iso := parse_date_value(value):
            return DateEvidence(iso, "structured", f"JSON-LD {key}")
    for node in root.iter("time"):
        # A <time> inside a link is the page's own date when the link is its permalink
        # (WordPress's entry-date): only lists and related blocks disqualify it.
        if node.get("datetime") and not _in_furniture(node, rules, links=False) and (
                iso := parse_date_value(node.get("datetime"))):
            return DateEvidence(iso, "structured", "<time datetime>")
    if (m := WECHAT_TIME_RE.search(html)) and (iso := parse_date_value(m.group("ts"))):
        return DateEvidence(iso, "structured", "WeChat ct")
    return None


@lru_cache(maxsize=4)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text, re.IGNORECASE)


def _in_furniture(node: lxml.html.HtmlElement, rules: dict, *, lists: bool = True, links: bool = True) -> bool:
    """Inside a link, a list item or a block named as related links, footer or sidebar: a date
    there belongs to another story or to the site. Under the headline (`lists=False`) a list
    item is the page's own info bar (<li>来源</li><li>2023-12-01 14:43</li>)."""
    names = set(rules.get("not_inside", [])) - (set() if lists else {"li"}) - (set() if links else {"a"})
    furniture = _pattern(rules.get("not_inside_class", "(?!)"))
    for el in (node, *node.iterancestors()):
        if el.tag in names or (el is not node and furniture.search(f"{el.get('class', '')} {el.get('id', '')}")):
            return True
    return False


TITLE_SEGMENT_RE = re.compile(r"\s*(?:_|\s[-–—|｜]\s|｜|\||--)\s*")


def _headline_nodes(root: lxml.html.HtmlElement, title: str | None) -> list[lxml.html.HtmlElement]:
    """Elements showing the headline in the page body (not links to it), most likely first:
    their text is the title, or the title's first segment (a <title> ends with channel and
    site names)."""
    if not title:
        return []
    segments = (title, TITLE_SEGMENT_RE.split(title.strip())[0], re.split(r"\s*[-_|｜—]+\s*", title.strip())[0])
    wanted = {re.sub(r"\s+", "", t) for t in segments if len(t.strip()) >= 2}
    longest = max(len(w) for w in wanted) + 10

    def shows(el: lxml.html.HtmlElement) -> bool:
        if not isinstance(el.tag, str) or el.tag == "a":
            return False
        # Only a heading or an element with text of its own can be the headline's element (a
        # wrapper's headline is in its child); this keeps the search linear in practice.
        if el.tag not in ("h1", "h2", "h3") and not (el.text and el.text.strip()):
            return False
        text = el.text_content()
        if len(text) > 4 * longest:
            return False
        text = re.sub(r"\s+", "", text)
        if len(text) < (2 if el.tag in ("h1", "h2") else 6):
            return False
        if any(text == w for w in wanted):
            return True
        # A heading may hold a little more or less than the declared title; other elements
        # must show it exactly (a sentence that starts with the title is not the headline).
        heading = el.tag in ("h1", "h2", "h3") or "title" in (el.get("class") or "").lower()
        return heading and len(text) >= 6 and any((text in w and len(text) >= 0.6 * len(w))
                                                  or (w in text and len(text) <= len(w) + 10) for w in wanted)

    body = next(root.iter("body"), root)
    found: list[lxml.html.HtmlElement] = []
    # Headings first (a breadcrumb may repeat the title above the headline), then any element.
    for el in [*body.iter("h1", "h2", "h3"), *body.iter()]:
        if shows(el) and not any(a.tag == "a" for a in el.iterancestors()):
            # The innermost element that shows it (<strong><h1><!-- -->Title</h1></strong>).
            while (inner := next((c for c in el if shows(c)), None)) is not None:
                el = inner
            if el not in found:
                found.append(el)
            if len(found) >= 6:
                break
    return found


def dateline_date(root: lxml.html.HtmlElement, title: str | None, rules: dict) -> DateEvidence | None:
    """The date line a reader sees under the headline, else an element whose class names a time."""
    max_chars = rules.get("dateline_max_chars", 80)
    headlines = _headline_nodes(root, title)
    for headline in headlines:
        seen = 0
        for text, owner in _following(headline):
            text = text.strip()
            if not text or _in_furniture(owner, rules, lists=False):
                continue
            seen += 1
            if seen > rules.get("dateline_nodes", 25) or _starts_body(text, rules):
                break
            if iso := find_dateline(text, max_chars):
                return DateEvidence(iso, "dateline", "the line under the headline")
    names = _pattern(rules.get("time_class", "(?!)"))
    # With the headline known, a time-named element counts only beside it (the date above the
    # headline, in the same header block): elsewhere it dates a sidebar's or a list's story.
    headers = [_ancestor(h, rules.get("header_levels", 4)) for h in headlines] or [root]
    for el in (el for header in headers for el in header.iter("span", "div", "p", "em", "i", "font", "small", "time", "td", "strong", "b", "cite")):
        label = f"{el.get('class', '')} {el.get('id', '')}".strip()
        if not label or not names.search(label) or _in_furniture(el, rules):
            continue
        # Beside the headline a time-named element may link its date (ifeng links it to the
        # author's page); elsewhere a linked date is another page's.
        if iso := find_dateline(el.text_content() if headlines else _unlinked_text(el), max_chars):
            return DateEvidence(iso, "dateline", f"{el.tag}.{label.split()[0]}")
    return None


def labelled_date(root: lxml.html.HtmlElement, rules: dict) -> DateEvidence | None:
    """A labelled date line anywhere outside furniture (`发布于 2022-02-24 10:30 · 阅读 1234` in
    a post-meta bar below the article, `<span>发布时间：</span><span>…</span>`): the label must
    begin the line or follow a space or a separator, so that `活动时间：…` in the story does
    not count, and the line must be as short as a date line."""
    max_chars = rules.get("dateline_max_chars", 80)
    label = _pattern(rf"(?:^|[\s|｜·/】\]]){rules.get('strong_labels', '(?!)')}")
    body = next(root.iter("body"), root)
    for el in body.iter():
        if not isinstance(el.tag, str):
            continue
        own = (el.text or "") + "".join(c.tail or "" for c in el)
        if not label.search(own.strip()) or _in_furniture(el, rules):
            continue
        line = " ".join(el.text_content().split())
        if len(line) > max_chars:
            continue
        match = label.search(line)
        if match and (iso := find_dateline(line[match.end():], max_chars)):
            return DateEvidence(iso, "dateline", f"a labelled date line ({line[:match.end()].strip()})")
    return None


def _unlinked_text(el: lxml.html.HtmlElement) -> str:
    """An element's text outside links (a link's date is another page's)."""
    parts = [el.text or ""] if el.tag != "a" else []
    for child in el.iterdescendants():
        if not isinstance(child.tag, str):
            continue
        linked = child.tag == "a" or any(a.tag == "a" for a in child.iterancestors() if a is not el)
        if not linked and child.text:
            parts.append(child.text)
        parent = child.getparent()
        if child.tail and not (parent is not None and parent is not el and (
                parent.tag == "a" or any(a.tag == "a" for a in parent.iterancestors() if a is not el))):
            parts.append(child.tail)
    return " ".join(parts)


def _ancestor(el: lxml.html.HtmlElement, levels: int) -> lxml.html.HtmlElement:
    for _ in range(levels):
        parent = el.getparent()
        if parent is None or parent.tag == "body":
            break
        el = parent
    return el


def _starts_body(text: str, rules: dict) -> bool:
    """The article's first sentence: the date line, if any, came before it."""
    return len(text) > rules.get("dateline_body_chars", 120) or (len(text) >= 40 and "。" in text)


def _following(start: lxml.html.HtmlElement) -> Iterator[tuple[str, lxml.html.HtmlElement]]:
    """(text, the element it belongs to) of every text node after `start`'s own text, in
    document order; a tail belongs to the parent of the element it follows."""
    started = False
    for event, el in lxml.etree.iterwalk(start.getroottree().getroot(), events=("start", "end")):
        if not isinstance(el.tag, str):
            continue
        if event == "start":
            if started and el.text:
                yield el.text, el
        else:
            if el is start:
                started = True
            if started and el.tail and el.getparent() is not None:
                yield el.tail, el.getparent()


def _squash(text: str | None) -> str:
    return re.sub(r"\s+", "", text or "")


def _shown_segment(root: lxml.html.HtmlElement, head: str) -> str | None:
    """A page without an h1 (print views, old table layouts): the segment of the <title> that
    an element shows whole as its own text (`打印 - 标题`, `标题_频道` with the headline in a
    <b> or a <td>) is the headline, whichever side of the separator it stands."""
    segments = [s.strip() for s in TITLE_SEGMENT_RE.split(head.strip()) if len(_squash(s)) >= 6]
    if len(segments) < 2 and _squash(head) == _squash(segments[0] if segments else ""):
        return None
    shown = {_squash(_text(el, "")) for el in root.iter("b", "strong", "td", "div", "p", "span", "h2", "h3", "font")
             if el.getparent() is not None and len(el) <= 3}
    return next((s for s in segments if _squash(s) in shown), None)


def page_title(root: lxml.html.HtmlElement, meta: PageMeta, html: str) -> str | None:
    """og:title, WeChat's msg_title, the h1, the <title>: in that order, except that an
    og:title unlike both the visible headline and the <title> (a template's stale
    declaration) gives way to the headline the reader sees."""
    declared = meta.get("og:title", "twitter:title")
    wechat = m.group("t") if (m := WECHAT_TITLE_RE.search(html)) else None
    h1, head = _first_text(root, "h1"), _first_text(root, "title")
    # The visible headline: the first h1 (else h2) the <title> also names (not a logo's or a
    # pop-up's h1).
    heads = [*list(root.iter("h1"))[:8], *list(root.iter("h2"))[:8]]
    shown = next((_text(h, " ") for h in heads
                  if len(_squash(_text(h, ""))) >= 4 and _squash(_text(h, "")) in _squash(head)), None) if head else None
    if declared and shown and _squash(shown) not in _squash(declared) and _squash(declared) not in _squash(head):
        return shown
    if not (declared or wechat or shown or h1) and head and (segment := _shown_segment(root, head)):
        return segment
    if not (declared or wechat or shown) and h1 and head:
        # An h1 that adds a counter or a badge to the headline (`标题 241`): the <title>'s
        # first segment is the headline it shows.
        first = TITLE_SEGMENT_RE.split(head.strip())[0].strip()
        if len(first) >= 6 and _squash(h1).startswith(_squash(first)):
            return first
    return declared or wechat or shown or h1 or head


def choose_date(structured: DateEvidence | None, line: DateEvidence | None) -> DateEvidence | None:
    """Structured data first; but when the page shows another day under its headline, the
    reader's date line wins (declarations go stale in templates and reposts), and the
    evidence names both."""
    if structured and line and structured.iso[:10] != line.iso[:10]:
        return DateEvidence(line.iso, line.kind, f"{line.where}; the page's {structured.where} says "
                                                 f"{structured.iso[:10]}")
    return structured or line


def extract_page(html: str, *, url: str | None, site: dict | None, data: Data, source: str | None = None
                 ) -> PageArticle:
    # One lxml tree for the page's own declarations, its text lines and the site's rules
    # (a BeautifulSoup of a whole page cost more than trafilatura's extraction of it).
    root = parse_page(html)
    check_depth(root, source or url)
    for node in list(root.iter(*UNSEEN_TAGS)):
        node.drop_tree()
    meta = PageMeta(root)
    title = page_title(root, meta, html)
    line = dateline_date(root, title, data.dates) or labelled_date(root, data.dates)
    evidence = choose_date(structured_date(html, root, meta, data.dates), line)
    date = evidence.iso if evidence else None
    page_url = url or meta.get("og:url") or _canonical(root)
    lines = [line.strip() for line in "\n".join(root.itertext()).split("\n") if line.strip()]
    body = _site_content(root, site)
    if body is None:
        body = consensus(html, title=title, url=page_url)
    return PageArticle(html=body, title=title, date=date, url=page_url,
                       description=meta.get("description", "og:description"), lines=lines[:400],
                       date_evidence=evidence)


def _plain(html: str) -> str:
    """A proposal's letters and digits only (one lxml parse: a soup per proposal cost more
    than comparing them)."""
    if not html.strip():
        return ""
    return re.sub(r"[\W_]+", "", parse_page(html).text_content())


def _grams(text: str) -> Counter[str]:
    return Counter(text[i:i + 4] for i in range(max(0, len(text) - 3)))


def _f1(a: Counter[str], b: Counter[str]) -> float:
    overlap = sum((a & b).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(a.values()), overlap / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def candidates(html: str, *, title: str | None, url: str | None) -> tuple[dict[str, str], bool]:
    """The article as each extractor sees it (HTML fragments; empty when one finds nothing),
    and whether the density finder found it under the page's own headline."""
    found: dict[str, str] = {}
    body = trafilatura.extract(html, output_format="html", include_images=True, include_formatting=True,
                               include_tables=True, include_comments=False, favor_precision=True, url=url) or ""
    found["trafilatura"] = re.sub(r"^<html><body>|</body></html>$", "", body.strip())
    try:
        found["readability"] = ReadabilityDocument(html).summary(html_partial=True)
    except (Unparseable, ValueError, TypeError):
        found["readability"] = ""
    main = density.find_main(html, title)
    found["density"] = main[0] if main else ""
    return found, bool(main and main[1])


def consensus(html: str, *, title: str | None, url: str | None) -> str:
    """The candidate closest to the others (the medoid); ties go to the order above."""
    proposals, anchored = candidates(html, title=title, url=url)
    plains = {name: _plain(body) for name, body in proposals.items()}
    grams = {name: _grams(text) for name, text in plains.items()}
    story = grams["density"]
    if anchored and sum(story.values()) >= 60:
        # The story under the page's own headline, which another extractor found too but
        # with much more around it (the next stories of an endless page, a recommendation
        # feed): the headline's story is the article.
        lead = plains["density"][:20]
        for name in ("trafilatura", "readability"):
            other = grams[name]
            contained = sum((story & other).values()) / sum(story.values())
            position = plains[name].find(lead)
            starts_there = 0 <= position <= 0.15 * len(plains[name])
            if contained >= 0.8 and starts_there and sum(other.values()) >= 2.5 * sum(story.values()):
                return proposals["density"]
    live = [name for name in proposals if grams[name]]
    if not live:
        return ""
    if len(live) == 1:
        return proposals[live[0]]
    best = max(live, key=lambda name: sum(_f1(grams[name], grams[other]) for other in live if other != name))
    return proposals[best]
