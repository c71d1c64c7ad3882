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

import re
from collections import Counter
from dataclasses import dataclass

import lxml.etree
import lxml.html
import trafilatura
from readability import Document as ReadabilityDocument
from readability.readability import Unparseable

from casebook.errors import ExtractionError
from scraper import density
from scraper.data import Data

# The title is bounded (500 characters): an unbounded lazy .*? rescans the rest of the line
# from every "var msg_title" of a hostile page.
WECHAT_TITLE_RE = re.compile(r"""var\s++msg_title\s*+=\s*+['"](?P<t>[^\n]{0,500}?)['"]\s*+(?:\.html\(false\))?\s*+;""")
WECHAT_TIME_RE = re.compile(r"""\bct\s*=\s*["'](?P<ts>\d{10})["']""")
DATE_META_NAMES = ("article:published_time", "og:release_date", "publishdate", "pubdate", "publish_date",
                   "PubDate", "og:published_time", "datePublished", "date", "dc.date", "weibo:article:create_at")
MIN_BODY_CHARS = 80


@dataclass
class PageArticle:
    html: str
    title: str | None
    date: str | None
    url: str | None
    description: str | None
    lines: list[str]          # the page's visible text lines, for 来源/发布时间 rules


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


def extract_page(html: str, *, url: str | None, site: dict | None, data: Data, source: str | None = None
                 ) -> PageArticle:
    # One lxml tree for the page's own declarations, its text lines and the site's rules
    # (a BeautifulSoup of a whole page cost more than trafilatura's extraction of it).
    root = parse_page(html)
    check_depth(root, source or url)
    for node in list(root.iter(*UNSEEN_TAGS)):
        node.drop_tree()
    meta = PageMeta(root)
    title = (meta.get("og:title", "twitter:title")
             or (m.group("t") if (m := WECHAT_TITLE_RE.search(html)) else None)
             or _first_text(root, "h1") or _first_text(root, "title"))
    date = meta.get(*DATE_META_NAMES)
    if not date and (m := WECHAT_TIME_RE.search(html)):
        date = m.group("ts")
    page_url = url or meta.get("og:url") or _canonical(root)
    lines = [line.strip() for line in "\n".join(root.itertext()).split("\n") if line.strip()]
    body = _site_content(root, site)
    if body is None:
        body = consensus(html, title=title, url=page_url)
    return PageArticle(html=body, title=title, date=date, url=page_url,
                       description=meta.get("description", "og:description"), lines=lines[:400])


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
