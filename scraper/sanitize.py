"""Keep only harmless article markup: no script, style, iframe, event handler or
javascript: URL survives. nh3 keeps only the tags and attributes listed here and only
http(s) URLs. Its own module: the site build sanitizes every case body and needs nothing
else of the scraper's HTML tooling."""

from __future__ import annotations

import nh3

ALLOWED_TAGS = {"p", "br", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u", "ul", "ol", "li",
                "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "img", "a", "blockquote",
                "figure", "figcaption", "div", "section", "article", "span", "pre", "code", "hr", "sup", "sub"}
ALLOWED_ATTRIBUTES = {"img": {"src", "alt", "title", "data-src", "data-original", "loading"},
                      "a": {"href", "title"}, "h2": {"id"}, "h3": {"id"}, "h4": {"id"},
                      "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}

def sanitize(html: str) -> str:
    """Keep only harmless article markup."""
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https"}, link_rel=None, strip_comments=True)
