"""RSS/Atom feeds and sitemaps: the article links they list, for ingest to follow."""

from __future__ import annotations

from lxml import etree

from casebook.errors import ExtractionError
from casebook.safety import safe_url
from scraper.sources import Document, is_url


def discover_links(doc: Document, *, max_links: int | None = None) -> list[str]:
    """The article links a feed or sitemap lists, in order, each once; only absolute http(s)
    addresses (the fetcher then refuses any that lead to a private network), at most
    `max_links` of them."""
    try:
        root = etree.fromstring(doc.text.encode("utf-8"), parser=etree.XMLParser(recover=True, resolve_entities=False,
                                                                                  no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ExtractionError(f"the feed is not well-formed XML: {exc}", source=doc.input) from exc
    if root is None:
        raise ExtractionError("the feed is empty", source=doc.input)
    links: list[str] = []
    for element in root.iter():
        tag = etree.QName(element).localname if isinstance(element.tag, str) else ""
        if tag == "link":
            href = element.get("href") or (element.text or "").strip()
            rel = element.get("rel", "alternate")
            if rel == "alternate" and (url := safe_url(href.strip(), allow_relative=False)) and is_url(url):
                links.append(url)
        elif tag == "loc" and (url := safe_url((element.text or "").strip(), allow_relative=False)) and is_url(url):
            links.append(url)
    # An RSS <channel> links to the site's home page, not to an article.
    channel_links = set()
    for channel in root.iter("{*}channel"):
        for child in channel:
            if isinstance(child.tag, str) and etree.QName(child).localname == "link":
                channel_links.add((child.text or "").strip())
    unique: list[str] = []
    kept: set[str] = set()   # a set: a sitemap may list 50,000 links
    for link in links:
        if link not in kept and link not in channel_links:
            unique.append(link)
            kept.add(link)
        if max_links is not None and len(unique) >= max_links:
            break
    if not unique:
        raise ExtractionError("the feed lists no article links", source=doc.input)
    return unique
