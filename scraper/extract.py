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

import trafilatura
from bs4 import BeautifulSoup
from readability import Document as ReadabilityDocument
from readability.readability import Unparseable

from scraper import density
from scraper.data import Data

WECHAT_TITLE_RE = re.compile(r"""var\s+msg_title\s*=\s*['"](?P<t>.*?)['"]\s*(?:\.html\(false\))?\s*;""")
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


def _meta(soup: BeautifulSoup, *names: str) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name}) \
            or soup.find("meta", attrs={"itemprop": name})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def _site_content(soup: BeautifulSoup, site: dict | None) -> str | None:
    if not site:
        return None
    for selector in site.get("drop", []):
        for node in soup.select(selector):
            node.decompose()
    for selector in site.get("content", []):
        try:
            nodes = soup.select(selector)
        except ValueError:
            continue
        for node in nodes:
            if len(node.get_text(strip=True)) >= MIN_BODY_CHARS:
                return str(node)
    return None


def extract_page(html: str, *, url: str | None, site: dict | None, data: Data) -> PageArticle:
    soup = BeautifulSoup(html, "lxml")
    for node in soup(["script", "style", "noscript", "iframe", "template"]):
        if node.name == "script" and node.string and "msg_title" in node.string:
            continue
        node.decompose()
    title = (_meta(soup, "og:title", "twitter:title")
             or (m.group("t") if (m := WECHAT_TITLE_RE.search(html)) else None)
             or (soup.h1.get_text(" ", strip=True) if soup.h1 else None)
             or (soup.title.get_text(" ", strip=True) if soup.title else None))
    date = _meta(soup, *DATE_META_NAMES)
    if not date and (m := WECHAT_TIME_RE.search(html)):
        date = m.group("ts")
    canonical = soup.find("link", rel="canonical")
    page_url = url or _meta(soup, "og:url") or (canonical.get("href") if canonical else None)
    lines = [line.strip() for line in soup.get_text("\n").split("\n") if line.strip()]
    body = _site_content(soup, site)
    if body is None:
        body = consensus(html, title=title, url=page_url)
    return PageArticle(html=body, title=title, date=date, url=page_url,
                       description=_meta(soup, "description", "og:description"), lines=lines[:400])


def _plain(html: str) -> str:
    return re.sub(r"[\W_]+", "", BeautifulSoup(html, "lxml").get_text()) if html else ""


def _grams(html: str) -> Counter[str]:
    text = _plain(html)
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
    grams = {name: _grams(body) for name, body in proposals.items()}
    story = grams["density"]
    if anchored and sum(story.values()) >= 60:
        # The story under the page's own headline, which another extractor found too but
        # with much more around it (the next stories of an endless page, a recommendation
        # feed): the headline's story is the article.
        lead = _plain(proposals["density"])[:20]
        for name in ("trafilatura", "readability"):
            other = grams[name]
            contained = sum((story & other).values()) / sum(story.values())
            position = _plain(proposals[name]).find(lead)
            starts_there = 0 <= position <= 0.15 * len(_plain(proposals[name]))
            if contained >= 0.8 and starts_there and sum(other.values()) >= 2.5 * sum(story.values()):
                return proposals["density"]
    live = [name for name in proposals if grams[name]]
    if not live:
        return ""
    if len(live) == 1:
        return proposals[live[0]]
    best = max(live, key=lambda name: sum(_f1(grams[name], grams[other]) for other in live if other != name))
    return proposals[best]
