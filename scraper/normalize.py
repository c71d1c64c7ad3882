"""One story to one `Case`: title, date, source, entities, category, tags, summary.

Never invents: a derived title or an inferred date makes the case a draft with a
`review` note saying what an editor must confirm.
"""

from __future__ import annotations

import re

from casebook.data import Data
from casebook.model import IMAGE_MD_RE, Case, plain_text
from scraper import classify, dates, entities
from scraper.metadata import detect_site, find_author_line
from scraper.script import is_traditional, simplified
from scraper.stories import Story

IMAGE_RE = IMAGE_MD_RE
COMMENTARY_RE = re.compile(r"^(?:案例微评|编者按|编者的话|导读|摘要|微评)\s*[:：]\s*(?P<text>.+)$")


def _summary(blocks: list[str]) -> str | None:
    for block in blocks:
        if block.startswith(("#", "!")):
            continue
        text = plain_text(block).strip()
        if len(text) < 30:
            continue
        sentences = re.findall(r"[^。！？!?]+[。！？!?]?[”’」』]?", text)
        summary = ""
        for sentence in sentences:
            if len(summary) + len(sentence) > 120 and summary:
                break
            summary += sentence
        return summary[:160].strip() or None
    return None


def working_title(blocks: list[str], banks: list[str]) -> str | None:
    """A title for a story that has none: the first clause of its commentary, else of its summary."""
    candidate = None
    for block in blocks:
        match = COMMENTARY_RE.match(plain_text(block).strip())
        if match:
            candidate = re.split(r"[，,。；;]", match.group("text"))[0]
            break
    if candidate is None:
        summary = _summary(blocks)
        if not summary:
            return None
        candidate = re.split(r"[，,。；;]", summary)[0]
    candidate = candidate.strip()[:40]
    if banks:
        bank = banks[0]
        for size in range(len(bank) - 1, 2, -1):
            tail = bank[-size:]
            if candidate.startswith(tail):
                return bank + candidate[len(tail):]
    return candidate


def build_case(story: Story, *, page_text: str, page_lines: list[str], declared_date: str | None,
               declared_title: str | None, url: str | None, site: dict | None, meta_source: str | None,
               meta_via: str | None, cover: str | None, data: Data,
               date_evidence: str | None = None) -> Case:
    # A "<" in extracted text is text, never markup: Markdown would pass it through as HTML.
    blocks = [block.replace("<", "&lt;") for block in story.blocks]
    review: list[str] = []
    title = story.title or declared_title
    as_written = (title, blocks) if is_traditional(f"{title or ''}{''.join(blocks)}") else None
    if as_written:
        # The site speaks Simplified Chinese: a story in Traditional characters (a Taiwan or
        # Hong Kong portal, a Big5 page) is read, and published, as the same story in
        # Simplified, so it gives the same case in any container.
        title = simplified(title) if title else title
        blocks = [simplified(block) for block in blocks]
        review.append("text: converted from Traditional to Simplified characters (OpenCC t2s); check names")
    body = "\n\n".join(blocks).strip()
    text = plain_text(body)
    bank_counts = entities.find_banks(f"{title or ''}\n{text}", data)
    banks = list(bank_counts)
    if not title:
        title = working_title(blocks, banks)
        review.append("title: the report has no headline; this working title was derived from its text")

    date, evidence = _choose_date(story, text=text, page_text=page_text, page_lines=page_lines,
                                  declared_date=declared_date, date_evidence=date_evidence, review=review,
                                  url_date=url_day(url, data))

    source = story.extra.get("source") or meta_source
    if source is None and story.byline and story.byline.source:
        source = story.byline.source
    story_site = detect_site(text, url, data) or site
    via = meta_via
    if story_site:
        if story_site.get("role") == "source" and source is None:
            source = story_site["name"]
        elif story_site.get("role") == "via" and via is None and story_site["name"] != source:
            via = story_site["name"]
    authors = list(story.byline.authors) if story.byline else find_author_line(page_lines[:60])

    s_title, s_text = title or "", text
    place = entities.find_region(f"{s_title}\n{s_text}", data)
    images = IMAGE_RE.findall(body)
    verdict = classify.judge_story(s_title, blocks, data)
    case = Case(
        title=title, date=date,
        category=classify.categorize(s_title, s_text, data),
        tags=classify.tag(s_title, s_text, data),
        banks=banks, province=place.province, city=place.city, district=place.district,
        programs=entities.find_programs(f"{s_title}\n{s_text}", data),
        source=source, source_url=url, via=via if via != source else None, authors=authors,
        summary=_summary(blocks), cover=cover or (images[0] if images else None), images=images,
        figures=entities.find_figures(text), review=review,
        draft_reasons=draft_reasons(title_derived=story.title is None and not declared_title, date=date),
        body=body, relevant=verdict.relevant, reason=verdict.reason,
        headings=[b.lstrip("#").strip() for b in blocks if b.startswith("#")],
        date_evidence=evidence,
    )
    case.status = "draft" if case.draft_reasons else "published"
    if as_written and not case.relevant:
        _keep_as_written(case, *as_written)
    return case


def _keep_as_written(case: Case, title: str | None, blocks: list[str]) -> None:
    """A rejected story is never published: the report and `extract` show it as written."""
    case.title = title or case.title
    case.body = "\n\n".join(blocks).strip()
    case.summary = _summary(blocks)
    case.review = [note for note in case.review if not note.startswith("text: converted")]


def url_day(url: str | None, data: Data) -> str | None:
    """The day in a page's own address (`/2023-11/07/c_…`, `/20231107/…`, digest.yaml
    `link_date`): the publisher's filing of the story, weaker than anything the page says."""
    if not url:
        return None
    path = re.sub(r"^https?://[^/]+", "", url)   # a host name's digits are no date
    for match in re.finditer(data.digest.get("link_date", r"(?!)"), path):
        if built := dates.build_day(int(match["y"]), int(match["m"]), int(match["d"])):
            return built
    return None


def _choose_date(story: Story, *, text: str, page_text: str, page_lines: list[str], declared_date: str | None,
                 date_evidence: str | None, review: list[str], url_date: str | None = None
                 ) -> tuple[str | None, str]:
    """The story's date and its evidence (scraper/dates.py ranks the kinds). A digest's story
    brings the date its container gave it (its own link, the document's header); the
    document's own date (structured, date line, container) belongs to its first story; a date
    only the text gives is a review note; otherwise no date is given: the day a report was
    collected is never its date."""
    if story.extra.get("date"):
        if story.extra.get("date_note"):
            review.append(story.extra["date_note"])
        return story.extra["date"], story.extra.get("date_evidence") or "container"
    if story.index == 0 and declared_date:
        return declared_date, date_evidence or "container"
    if story.index == 0 and page_lines and (found := dates.find_labelled_date(page_lines)):
        return found, "dateline: labelled line"
    if story.index == 0 and url_date:
        review.append(f"date: taken from the address of the page ({url_date}); confirm it is the day of publication")
        return url_date, "container: the page's address"
    inferred = dates.infer_date(text, page_text)
    if inferred:
        review.append(inferred.note)
        return inferred.iso, "text: inferred"
    review.append("date: no publication date found in the report; find the day it was published, "
                  "write it as `date:` and set `status: published`")
    return None, ""


DATE_REASONS = ("undated", "month-only")


def date_reason(date: str | None) -> list[str]:
    """The draft reason a date gives: none, or only a month (2021-10), or an exact day."""
    if date is None:
        return ["undated"]
    return ["month-only"] if len(date) < 10 else []


def draft_reasons(*, title_derived: bool, date: str | None) -> list[str]:
    """Why a case goes out as a draft (codes of scraper/data/review.yaml): its headline or its
    day of publication is unknown. An exact day whose year was inferred is published with a
    review note. No reason: the case is published."""
    return date_reason(date) + (["no-headline"] if title_derived else [])
