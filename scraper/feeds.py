"""RSS/Atom feeds and sitemaps: the article links they list, for ingest to follow."""

from __future__ import annotations

from lxml import etree

from casebook.errors import ExtractionError
from scraper.sources import Document


def discover_links(doc: Document) -> list[str]:
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
            if href.startswith("http") and rel == "alternate":
                links.append(href)
        elif tag == "loc" and (element.text or "").strip().startswith("http"):
            links.append(element.text.strip())
    # An RSS <channel> links to the site's home page, not to an article.
    channel_links = set()
    for channel in root.iter("{*}channel"):
        for child in channel:
            if isinstance(child.tag, str) and etree.QName(child).localname == "link":
                channel_links.add((child.text or "").strip())
    unique = []
    for link in links:
        if link not in unique and link not in channel_links:
            unique.append(link)
    if not unique:
        raise ExtractionError("the feed lists no article links", source=doc.input)
    return unique
