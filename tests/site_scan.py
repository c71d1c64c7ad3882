"""Every URL a built site emits, wherever it is: HTML attributes, inline CSS, JSON-LD and
Open Graph, Atom/RSS links and the HTML inside feed entries, the sitemap, the datasets.
Used by the site-wide property tests (tests/test_hostile_cases.py, tests/test_case_fuzz.py)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import lxml.etree
import lxml.html

from casebook.safety import safe_url

URL_ATTRS = {"href", "src", "action", "formaction", "poster", "cite", "data", "background", "ping",
             "longdesc", "manifest", "icon", "xlink:href", "{http://www.w3.org/1999/xlink}href"}
CSS_URL_RE = re.compile(r"url\(\s*['\"]?([^'\")]*)", re.IGNORECASE)
URL_META = re.compile(r"(^og:.*(url|image|video|audio)(:secure_url)?$)|(^twitter:image)|(^article:author$)")
JSONLD_URL_KEYS = {"url", "image", "isBasedOn", "sameAs", "logo", "@id", "mainEntityOfPage", "thumbnailUrl",
                   "contentUrl", "embedUrl"}
DATASET_URL_FIELDS = ("url", "source_url", "cover")


def _json_urls(value: object, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _json_urls(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _json_urls(v, key)
    elif isinstance(value, str) and (key in JSONLD_URL_KEYS or (re.match(r"^\s*[a-zA-Z][\w+.\-]*:", value)
                                     and key not in ("headline", "description", "name", "keywords", "about"))):
        yield value


def html_urls(text: str) -> Iterator[str]:
    if not text.strip():
        return
    root = lxml.html.fromstring(text) if "<html" in text[:500].lower() else lxml.html.fragment_fromstring(
        text, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name, value in element.attrib.items():
            if name.lower() in URL_ATTRS:
                yield value
            elif name.lower() == "srcset":
                yield from (part.strip().split(" ")[0] for part in value.split(",") if part.strip())
            elif name.lower() == "style":
                yield from CSS_URL_RE.findall(value)
        if element.tag == "meta":
            prop = (element.get("property") or element.get("name") or "").lower()
            if URL_META.match(prop):
                yield element.get("content", "")
            if (element.get("http-equiv") or "").lower() == "refresh":
                yield (element.get("content") or "").partition("url=")[2]
        if element.tag == "style":
            yield from CSS_URL_RE.findall(element.text or "")
        if element.tag == "script" and element.get("type") == "application/ld+json":
            yield from _json_urls(json.loads(element.text or "null"))


def feed_urls(data: bytes) -> Iterator[str]:
    root = lxml.etree.fromstring(data)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        local = lxml.etree.QName(element).localname
        if element.get("href") is not None:
            yield element.get("href")
        if local in ("link", "loc", "comments", "docs") and element.text and element.text.strip():
            yield element.text.strip()
        if local in ("content", "summary", "description") and element.text:
            yield from html_urls(element.text)


def _described_urls(value: object, key: str = "") -> Iterator[str]:
    """The URLs of the datasets' descriptions (datasets.json, Datasette's metadata.json):
    every value of a key that ends in `url`."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _described_urls(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _described_urls(v, key)
    elif isinstance(value, str) and key.endswith("url"):
        yield value


def dataset_urls(path: Path) -> Iterator[str]:
    if path.suffix == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(rows, dict):
            yield from _described_urls(rows)
            return
    else:
        rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        for row in rows:
            for name in ("images", "reposts"):
                row[name] = json.loads(row[name]) if row.get(name) else []
    for row in rows:
        yield from (row[name] for name in DATASET_URL_FIELDS if row.get(name))
        yield from row.get("images") or []
        yield from (r["url"] for r in row.get("reposts") or [] if isinstance(r, dict) and r.get("url"))


def site_urls(output: Path) -> Iterator[tuple[str, str]]:
    """(file, url) for every URL in the built site."""
    for path in sorted(output.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(output))
        if path.suffix == ".html":
            yield from ((name, u) for u in html_urls(path.read_text(encoding="utf-8")))
        elif path.suffix == ".xml":
            yield from ((name, u) for u in feed_urls(path.read_bytes()))
        elif path.suffix == ".css":
            yield from ((name, u) for u in CSS_URL_RE.findall(path.read_text(encoding="utf-8")))
        elif path.parent.name == "data" and path.suffix in (".json", ".csv"):
            yield from ((name, u) for u in dataset_urls(path))


def unsafe_urls(output: Path) -> list[tuple[str, str]]:
    return [(name, url) for name, url in site_urls(output) if url.strip() and safe_url(url) is None]
