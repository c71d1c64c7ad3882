"""A whole news page to its article: the body HTML and the page-level metadata.

Per-site rules (sites.yaml: content selectors, dropped selectors) are tried first;
otherwise a well-kept generic extractor (trafilatura) finds the main text. Metadata
comes from the page's own declarations (og:title, h1, article:published_time,
WeChat's msg_title and ct) before the generic extractor's guesses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import trafilatura
from bs4 import BeautifulSoup

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
        body = trafilatura.extract(html, output_format="html", include_images=True, include_formatting=True,
                                   include_tables=True, include_comments=False, favor_precision=True,
                                   url=page_url) or ""
        body = re.sub(r"^<html><body>|</body></html>$", "", body.strip())
    return PageArticle(html=body, title=title, date=date, url=page_url,
                       description=_meta(soup, "description", "og:description"), lines=lines[:400])
