"""RSS/Atom feeds, JSON Feeds (jsonfeed.org 1.0/1.1) and sitemaps.

A feed item that carries its own full text (RSS `content:encoded`, escaped HTML in
`description`, Atom `content`) is a document: it becomes a story with the item's title,
date (evidence kind `container`), author and link (the case's `source_url`). An item that
holds only a summary gives its link for ingest to fetch, with the item's date and author
kept as evidence for the fetched page (`FeedHint`). Sitemaps give links only. At most
`settings.max_feed_items` items are read per feed.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lxml import etree

from casebook.errors import CasebookError, ExtractionError
from casebook.safety import safe_url
from scraper.dates import parse_date_value
from scraper.normalize import DATE_REASONS, date_reason
from scraper.sources import JSON_FEED_RE, Document, is_url

if TYPE_CHECKING:
    from casebook.data import Data
    from casebook.model import Case

FULL_TEXT_CHARS = 200          # an item whose text is shorter is a summary: its link is fetched
PERSON_RE = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
TAG_RE = re.compile(r"<[^<>]+>")
XML_DECLARED_ENCODING_RE = re.compile(r"""\A(\s*<\?xml[^>]{0,200}?encoding\s*=\s*["'])[^"']{0,40}(["'])""")
TRUNCATED_RE = re.compile(r"(?:…|\.\.\.|\[…\]|\[\.\.\.\]|(?:阅读|查看|展开)(?:全文|原文|更多)[>》]*|Readmore|ReadMore)$")


@dataclass
class FeedHint:
    """What a feed said about a linked article: evidence for the page fetched from the link."""

    title: str | None = None
    date: str | None = None
    author: str | None = None
    feed: str = ""


@dataclass
class FeedItem:
    title: str | None
    link: str | None
    date: str | None
    author: str | None
    content: str               # HTML of the item's own text ("" when it has none)
    guid: str


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _text(element: etree._Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def parse_feed(doc: Document) -> etree._Element:
    try:
        # The text is decoded already (decode.py read the declaration): the bytes given to
        # lxml are UTF-8, so a declaration naming GBK or Big5 must not make lxml decode again.
        text = XML_DECLARED_ENCODING_RE.sub(r"\1utf-8\2", doc.text, count=1)
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(
            recover=True, resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise ExtractionError(f"the feed is not well-formed XML: {exc}", source=doc.input) from exc
    if root is None:
        raise ExtractionError("the feed is empty", source=doc.input)
    return root


def _child(item: etree._Element, *names: str) -> etree._Element | None:
    for name in names:
        for child in item:
            if _local(child) == name:
                return child
    return None


def _content(item: etree._Element) -> str:
    """The item's own HTML: content:encoded, Atom content (html or xhtml), else description."""
    for name in ("encoded", "content", "description", "summary"):
        node = _child(item, name)
        if node is None:
            continue
        if len(node) and node.get("type") == "xhtml":
            return "".join(etree.tostring(c, encoding="unicode") for c in node)
        value = (node.text or "").strip()
        if value:
            return value
    return ""


def _link(item: etree._Element) -> str | None:
    for child in item:
        if _local(child) != "link":
            continue
        href = _absolute_http(child.get("href") or (child.text or "").strip())
        if href and child.get("rel", "alternate") == "alternate":
            return href
    return _absolute_http(_text(_child(item, "guid", "id")))


def _absolute_http(url: str) -> str | None:
    """Only absolute http(s) links are followed (the fetcher then refuses any that lead to a
    private network); anything else a feed names is dropped."""
    safe = safe_url(url.strip(), allow_relative=False)
    return safe if safe and is_url(safe) else None


def feed_items(root: etree._Element, limit: int) -> list[FeedItem]:
    items: list[FeedItem] = []
    for element in root.iter():
        if _local(element) not in ("item", "entry"):
            continue
        if len(items) >= limit:
            break
        author_node = _child(element, "creator", "author")
        author = _text(_child(author_node, "name")) if author_node is not None and len(author_node) else \
            _text(author_node)
        date_node = _child(element, "pubDate", "published", "date", "issued", "updated", "modified")
        link = _link(element)
        content = _content(element)
        guid = _text(_child(element, "guid", "id")) or link or hashlib.sha256(content.encode()).hexdigest()
        items.append(FeedItem(title=_text(_child(element, "title")) or None, link=link,
                              date=_text(date_node) or None, author=author or None, content=content, guid=guid))
    return items


def _json_author(entry: dict) -> str | None:
    """JSON Feed 1.1's `authors` list, or 1.0's single `author`: the first one's name."""
    authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
    first = authors[0] if isinstance(authors, list) and authors else None
    name = first.get("name") if isinstance(first, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else None


def _json_content(entry: dict) -> str:
    """content_html as it is; content_text as escaped paragraphs (blank-line separated)."""
    if isinstance(entry.get("content_html"), str) and entry["content_html"].strip():
        return entry["content_html"].strip()
    text = entry.get("content_text") or entry.get("summary") or ""
    if not isinstance(text, str):
        return ""
    return "".join(f"<p>{html.escape(p.strip())}</p>" for p in re.split(r"\n\s*\n|\n", text) if p.strip())


def json_feed_items(doc: Document, limit: int) -> list[FeedItem]:
    try:
        feed = json.loads(doc.text)
    except (json.JSONDecodeError, RecursionError) as exc:
        line = getattr(exc, "lineno", None)
        raise ExtractionError(f"the JSON Feed is not valid JSON: {exc}", source=doc.input, line=line,
                              hint="fix the JSON, or save the feed again") from exc
    entries = feed.get("items") if isinstance(feed, dict) else None
    if not isinstance(entries, list):
        raise ExtractionError("the JSON Feed has no `items` list", source=doc.input,
                              hint="a JSON Feed lists its stories under \"items\"")
    items = []
    for entry in [e for e in entries if isinstance(e, dict)][:limit]:
        link = next((u for key in ("url", "external_url") if isinstance(entry.get(key), str)
                     and (u := _absolute_http(entry[key]))), None)
        content = _json_content(entry)
        title, date = entry.get("title"), entry.get("date_published") or entry.get("date_modified")
        guid = str(entry.get("id") or link or hashlib.sha256(content.encode()).hexdigest())
        items.append(FeedItem(title=title.strip() if isinstance(title, str) and title.strip() else None, link=link,
                              date=date if isinstance(date, str) else None, author=_json_author(entry),
                              content=content, guid=guid))
    return items


def has_full_text(item: FeedItem) -> bool:
    """Escaped HTML in a description arrives here unescaped once by the XML parser; text
    that still holds entities (&lt;p&gt;) is escaped twice."""
    text = re.sub(r"\s+", "", TAG_RE.sub("", html.unescape(TAG_RE.sub("", item.content))))
    if TRUNCATED_RE.search(text):   # a teaser that stops mid-story: the link has the story
        return False
    return len(text) >= FULL_TEXT_CHARS


def item_document(feed: Document, item: FeedItem, index: int) -> Document:
    """A full-text item as a document of its own: a post whose front matter is the item's."""
    content = item.content
    if "<" not in content and "&lt;" in content:
        content = html.unescape(content)
    meta: dict[str, object] = {"title": item.title, "date": item.date, "_date_from": "feed item date"}
    if item.author:
        meta["author"] = item.author
    key = hashlib.sha256(f"{feed.key}\n{item.guid}".encode()).hexdigest()[:16]
    return Document(input=f"{feed.input}#item{index + 1}", kind="post", text=content, body=content, meta=meta,
                    url=item.link, key=key, encoding=feed.encoding, collected=feed.collected)


def hint_for(item: FeedItem, feed: Document) -> FeedHint:
    return FeedHint(title=item.title, date=parse_date_value(item.date) if item.date else None,
                    author=item.author, feed=feed.input)


def person_name(author: str | None) -> str | None:
    """A feed's author field names a person (张三) or the publisher (社区金融资讯): only a
    person is a case author."""
    return author if author and PERSON_RE.match(author.strip()) else None


WEAK_DATE_KINDS = ("text", "collected", "")


def apply_hint(case: Case, hint: FeedHint, *, date_kind: str | None) -> None:
    """The feed's author for a case without one; with `date_kind`, the feed's date for a page
    whose own date is only inferred from its text or is the day it was collected."""
    if not case.authors and (name := person_name(hint.author)):
        case.authors = [name]
    evidence = case.date_evidence.split(":")[0]
    if date_kind and hint.date and evidence in WEAK_DATE_KINDS:
        case.date = hint.date
        case.date_evidence = date_kind
        case.review = [r for r in case.review if not r.startswith("date:")]
        # The feed's date replaces the page's: so does its draft reason (an undated page with
        # a dated feed item is no longer undated).
        others = [r for r in case.draft_reasons if r not in DATE_REASONS]
        case.draft_reasons = date_reason(hint.date) + others
        case.status = "draft" if case.draft_reasons else "published"


def sitemap_links(root: etree._Element) -> list[str]:
    return [url for element in root.iter()
            if _local(element) == "loc" and (url := _absolute_http(element.text or ""))]


def read_feed(doc: Document, data: Data, limit: int,
              extract: Callable[[Document, Data], list[Case]]) -> tuple[list[Case], list[str], dict[str, FeedHint]]:
    """(cases, links to fetch, the feed's word on each link). Items with their own full text
    are read by `extract` (the pipeline's extract_document) as documents of their own; the
    others' links are left to ingest, with their date and author as hints. One bad item does
    not lose the others: its error becomes a review note of the feed's first case."""
    root = None if JSON_FEED_RE.match(doc.text[:5000]) else parse_feed(doc)
    items = feed_items(root, limit) if root is not None else json_feed_items(doc, limit)
    cases: list[Case] = []
    links: list[str] = []
    hints: dict[str, FeedHint] = {}
    failures: list[CasebookError] = []
    for index, item in enumerate(items):
        if has_full_text(item):
            try:
                found = extract(item_document(doc, item, index), data)
            except CasebookError as exc:
                failures.append(exc)
                continue
            for case in found:
                apply_hint(case, hint_for(item, doc), date_kind=None)
            cases.extend(found)
        elif item.link and item.link not in hints:
            links.append(item.link)
            hints[item.link] = hint_for(item, doc)
    if not items and root is not None:
        links = list(dict.fromkeys(sitemap_links(root)))[:limit]
    if not cases and not links:
        if failures:
            raise failures[0]
        raise ExtractionError("the feed lists no article links and no stories", source=doc.input,
                              hint="an RSS/Atom feed needs <item>/<entry> elements; a sitemap needs <loc> links")
    for case in cases[:1]:
        case.review.extend(f"feed: an item was not read: {exc}" for exc in failures)
    return cases, links, hints
