"""Pages that hold several stories are split before anything is judged.

A story ends at its byline (华西社区报记者 朱佳慧 摄影报道); when a headline and body
text follow, a new story begins. Each story keeps its own title, blocks and byline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from casebook.data import Data
from scraper.metadata import Byline, parse_byline
from scraper.textdump import ends_sentence

DATE_LINE_RE = re.compile(r"^\S{0,6}\s*(?:19|20)\d{2}[-年/.]\d{1,2}")


@dataclass
class Story:
    title: str | None
    blocks: list[str]
    byline: Byline | None = None
    index: int = 0
    extra: dict = field(default_factory=dict)


def is_headline(block: str, data: Data) -> bool:
    text = block.lstrip("#").strip()
    if block.startswith("!") or not 6 <= len(text) <= 64 or DATE_LINE_RE.match(text):
        return False
    if text.endswith(("。", "；", "：", ":", "，", ",")):
        return False
    return not (ends_sentence(text, data) and not text.endswith(("”", "？", "?", "！", "!")))


def split(blocks: list[str], data: Data, *, first_title: str | None, title_from_text: bool) -> list[Story]:
    """Stories in order. `first_title` is the title the document declares (front matter,
    og:title); without one, and when `title_from_text`, the first headline-like block is it."""
    stories: list[Story] = []
    current = Story(title=first_title, blocks=[])
    if first_title is None and title_from_text and blocks and is_headline(blocks[0], data):
        current.title = blocks[0].lstrip("#").strip()
        blocks = blocks[1:]
    i = 0
    while i < len(blocks):
        block = blocks[i]
        byline = parse_byline(block)
        if byline is None:
            current.blocks.append(block)
            i += 1
            continue
        current.byline = current.byline or byline
        rest = blocks[i + 1:]
        starts_new = (len(rest) >= 3 and is_headline(rest[0], data)
                      and sum(len(b) for b in rest[1:]) >= 200 and current.blocks)
        if starts_new:
            stories.append(current)
            current = Story(title=rest[0].lstrip("#").strip(), blocks=[], index=len(stories))
            i += 2
            continue
        i += 1
    stories.append(current)
    out: list[Story] = []
    for story in stories:
        for item in split_digest(story, data):
            item.index = len(out)
            out.append(item)
    return [s for s in out if s.blocks]


def split_digest(story: Story, data: Data) -> list[Story]:
    """A digest (TOP10, 一周要闻) found inside a page's article holds one story per numbered
    item: the numbered-items case of scraper/segment.py, on the article's blocks."""
    from scraper.segment import numbered_items

    items = numbered_items(story.blocks, data)
    if items is None:
        return [story]
    return [Story(title=title, blocks=blocks, index=story.index + number, extra=dict(story.extra))
            for number, (title, blocks) in enumerate(items)]
