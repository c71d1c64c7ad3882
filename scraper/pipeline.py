"""The extraction pipeline: an input (file, folder or URL) to `Case` records.

    read (sources, fetch) -> decode -> sniff -> article blocks (extract / tomarkdown /
    textdump) -> boilerplate -> split stories -> normalize -> relevance

`extract_document` does no writing; `scraper.ingest` adds dedupe and the store.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

from casebook.data import Data, load_data
from casebook.errors import CasebookError, ExtractionError
from casebook.model import CHINA_TZ, Case, clean_case, web_url
from casebook.settings import Settings
from scraper import boilerplate, classify, dates, segment, textdump
from scraper.extract import extract_page
from scraper.guard import as_input_error, check_budget, time_budget
from scraper.metadata import clean_title, detect_site, find_source
from scraper.normalize import build_case
from scraper.sanitize import sanitize
from scraper.sources import Document, document_from_bytes, is_url, read_file
from scraper.stories import Story, split
from scraper.tomarkdown import html_to_markdown, tidy_markdown, unwrap_image_url

HTML_BODY_RE = re.compile(r"<(?:p|div|br|img|h[1-6]|section|span|table)[\s/>]", re.IGNORECASE)
COVER_KEYS = ("cover", "headimg", "thumbnail", "image", "banner", "featured_image")


@dataclass
class Extraction:
    """What one input gave: its cases, or the error that stopped it."""

    input: str
    cases: list[Case] = field(default_factory=list)
    error: CasebookError | None = None
    links: list[str] = field(default_factory=list)   # article links found in a feed
    hints: dict = field(default_factory=dict)        # link -> feeds.FeedHint: the feed's word on it


def _blocks(markdown: str) -> list[str]:
    return [b.strip() for b in re.split(r"\n\s*\n", markdown) if b.strip()]


def _meta_text(value: object) -> str | None:
    """A front-matter value as text, when it is one (a post's YAML may hold any type)."""
    if isinstance(value, bool) or value is None:
        return None
    return str(value) if isinstance(value, str | int | float) else None


def _meta_texts(value: object) -> list[str]:
    """A front-matter value as a list of texts: a scalar or a list of scalars."""
    values = value if isinstance(value, list) else [value]
    return [text for text in (_meta_text(v) for v in values) if text]


def _meta_via(meta: dict, data: Data) -> str | None:
    """A mirrored post names the portal it copied from as its author or category."""
    values = [*_meta_texts(meta.get("author")), *_meta_texts(meta.get("categories")), *_meta_texts(meta.get("tags"))]
    for site in data.sites:
        if site.get("role") == "via" and any(site["name"] == v.strip() for v in values):
            return site["name"]
    return None


def _post_article(doc: Document, data: Data) -> tuple[str, list[str], str | None, str | None]:
    body = doc.body
    if HTML_BODY_RE.search(body):
        markdown, _images = html_to_markdown(body, proxies=data.image_proxies, base_url=doc.url)
    else:
        markdown = tidy_markdown(re.sub(r"<[^<>]+>", "", sanitize(body)) if "<" in body else body)
    cover = next((text for k in COVER_KEYS if (text := _meta_text(doc.meta.get(k)))), None)
    cover = unwrap_image_url(cover, data.image_proxies) if cover else None
    title = _meta_text(doc.meta.get("title"))
    title = clean_title(title, data, mirrored=True) if title else None
    return markdown, _blocks(markdown), title, cover


def find_digest(doc: Document, data: Data) -> segment.Digest | None:
    """The stories of a digest-shaped document (scraper/segment.py), or None for one story."""
    body = doc.body
    if doc.kind == "feed":
        return None
    title = segment.document_title(doc.text, doc.meta)
    if segment.is_markdown(body) or not HTML_BODY_RE.search(body[:200_000]):
        elements = segment.markdown_outline(body)
    else:
        elements = segment.html_outline(body)
    if doc.kind == "text" and not segment.is_markdown(body):
        # A plain-text dump has lost its markup: its headlines are short lines without
        # sentence punctuation, and its first such line is what it calls itself.
        elements = [segment.Element("bold", e.text) if e.kind == "para" and textdump.looks_like_heading(e.text, data)
                    else e for e in elements]
        if elements and elements[0].kind == "bold" and not title:
            title = elements[0].text
            elements[0] = segment.Element("heading", title, level=1)
    declared = dates.parse_date_value(doc.meta.get("date")) if doc.meta.get("date") else None
    return segment.find_stories(elements, title, data, declared)


def digest_cases(doc: Document, digest: segment.Digest, data: Data) -> list[Case]:
    """One case per story of a digest, each with its own title, date and address."""
    site = detect_site(doc.text[:20000], doc.url, data)
    cases = []
    for index, found in enumerate(digest.stories):
        blocks = boilerplate.strip_boilerplate(found.blocks, data) if found.blocks else []
        if doc.kind == "text":
            blocks = textdump.mark_headings(textdump.repair(blocks, data), data)
        extra = {"date": found.date, "date_note": found.date_note, "digest": digest.level}
        if found.source:
            extra["source"] = found.source
        verdict = (classify.judge_story(found.title, blocks, data) if blocks
                   else classify.Verdict(False, "only a headline: its section holds no text of its own"))
        if verdict.relevant:
            story = Story(title=found.title, blocks=blocks, index=index, extra=extra)
            case = build_case(story, page_text="\n".join(blocks), page_lines=[], declared_date=None,
                              declared_title=None, url=found.url or doc.url, site=site, meta_source=None,
                              meta_via=None, cover=None, data=data)
        else:
            # A digest is mostly other news: a story that is not a case is reported with its
            # title, date, address and reason, without the entity reading a case needs.
            case = Case(title=found.title, date=found.date, source_url=found.url or doc.url,
                        review=[found.date_note] if found.date_note else [], body="\n\n".join(blocks),
                        status="draft", relevant=False, reason=verdict.reason)
        case.input = doc.input
        case.key = f"{doc.key}#{index}"
        cases.append(case)
    return cases


def extract_document(doc: Document, data: Data) -> list[Case]:
    """Every story of one document, relevant or not."""
    digest = find_digest(doc, data)
    if digest is not None:
        return digest_cases(doc, digest, data)
    site = detect_site(doc.text, doc.url, data)
    declared_date = None
    date_evidence = None
    title = None
    cover = None
    meta_via = None
    if doc.kind == "post":
        markdown, blocks, title, cover = _post_article(doc, data)
        declared_date, date_evidence = dates.post_date(doc.meta, blocks,
                                                       data.dates.get("front_matter_date_keys", ["date"]))
        meta_via = _meta_via(doc.meta, data)
        page_lines = [b for b in blocks]
    elif doc.kind == "html":
        page = extract_page(doc.body, url=doc.url, site=site, data=data, source=doc.input)
        check_budget()
        markdown, _ = html_to_markdown(page.html, proxies=data.image_proxies, base_url=doc.url or web_url(page.url))
        blocks = _blocks(markdown)
        title = clean_title(page.title, data)
        declared_date = dates.parse_date_value(page.date) if page.date else None
        date_evidence = page.date_evidence.label() if page.date_evidence else None
        page_lines = page.lines
        # og:url / canonical are the page's own claims: kept only as absolute http(s) URLs.
        doc.url = doc.url or web_url(page.url)
    elif doc.kind == "text":
        blocks = textdump.paragraphs(doc.body)
        page_lines = list(blocks)
        if declared_date := dates.find_top_dateline(page_lines):
            date_evidence = "dateline: the line under the headline"
    else:
        raise ExtractionError(f"a {doc.kind} document holds links, not a story", source=doc.input)
    if not blocks:
        raise ExtractionError("no article text was found in the page", source=doc.input,
                              hint="the page may be a listing, a login wall or a script-only page")
    meta_source = find_source(page_lines[:80] if doc.kind == "html" else page_lines)
    furniture_notes: list[str] = []
    blocks = boilerplate.strip_boilerplate(blocks, data, furniture_notes)
    if doc.kind == "html":
        blocks = boilerplate.drop_page_furniture(blocks, data)
    if doc.kind == "text":
        blocks = textdump.mark_headings(textdump.repair(blocks, data), data)
    stories = split(blocks, data, first_title=title, title_from_text=doc.kind == "text")
    if not stories:
        raise ExtractionError("nothing but page furniture was left after removing boilerplate",
                              source=doc.input, hint="check the page holds an article")
    # Years are inferred from the article's own text (every story of it), never from the
    # page around it: related links, copyright lines and sidebars carry other years.
    page_text = "\n".join(blocks)
    cases = []
    for story in stories:
        check_budget()
        case = build_case(story, page_text=page_text, page_lines=page_lines, declared_date=declared_date,
                          declared_title=None, url=doc.url, site=site, meta_source=meta_source if story.index == 0
                          else None, meta_via=meta_via, cover=cover if story.index == 0 else None, data=data,
                          date_evidence=date_evidence)
        case.review.extend(furniture_notes)
        case.input = doc.input
        case.key = f"{doc.key}#{story.index}"
        cases.append(clean_case(case))
    return cases


def read_input(item: str, settings: Settings, fetcher: object | None = None) -> Document:
    """A file path or an http(s) URL, read and sniffed."""
    if is_url(item):
        from scraper.fetch import shared_fetcher  # local import: fetching is optional for file inputs

        fetcher = fetcher or shared_fetcher(settings)
        response = fetcher.fetch(item)  # type: ignore[attr-defined]
        return document_from_bytes(response.body, input=item, url=response.url,
                                   http_charset=response.charset, key=response.key,
                                   collected=dt.datetime.now(CHINA_TZ).date().isoformat())
    raw = read_file(Path(item), max_bytes=settings.max_input_bytes)
    saved = dt.datetime.fromtimestamp(Path(item).stat().st_mtime, CHINA_TZ).date().isoformat()
    return document_from_bytes(raw, input=item, collected=saved)


def extract_input(item: str, settings: Settings, data: Data | None = None,
                  fetcher: object | None = None, hint: object | None = None) -> Extraction:
    """Never raises for a bad input: whatever goes wrong (a CasebookError, a RecursionError
    from hostile markup, MemoryError, the input's time budget running out) is returned as
    the error of the input it belongs to, and the batch goes on. `hint` is a feed's word
    (feeds.FeedHint) on the article behind a link it listed."""
    budget = settings.input_time_budget
    try:
        with time_budget(budget):
            data = data or load_data(settings.data_dir)
            doc = read_input(item, settings, fetcher)
            check_budget()
            if doc.kind == "feed":
                from scraper.feeds import read_feed

                cases, links, hints = read_feed(doc, data, settings.max_feed_items, extract_document)
                return Extraction(item, cases=cases, links=links, hints=hints)
            cases = extract_document(doc, data)
            if hint is not None:
                from scraper.feeds import apply_hint

                for case in cases:
                    apply_hint(case, hint, date_kind="container: feed item date")  # type: ignore[arg-type]
            return Extraction(item, cases=cases)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # whatever it is, one input must never stop the batch
        return Extraction(item, error=as_input_error(exc, item, budget))
