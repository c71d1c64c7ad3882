"""ASCII slugs for cases: the date, then the pinyin of the title's first words.

2022-02-24-zhenghe-jinrong-ziyuan-ru-quan. A slug is assigned once; the store keeps it
for the story forever after (see store.py), so improving this function never moves a
published page.
"""

from __future__ import annotations

import re
from functools import cache

import rjieba

MAX_WORDS = 6
MAX_CHARS = 60


@cache
def _segmenter() -> rjieba.Jieba:
    """A segmenter of the slugs' own, with the stock dictionary only: the search analyser
    teaches the process-wide one the domain's words, and a slug must not depend on whether
    that happened earlier in the same process."""
    return rjieba.Jieba()


def make_slug(title: str | None, date: str | None) -> str:
    words: list[str] = []
    for word in _segmenter().cut(title or ""):
        if re.fullmatch(r"[\u4e00-\u9fff]+", word):
            from pypinyin import lazy_pinyin  # heavy to import; only ingest needs it

            words.append("".join(lazy_pinyin(word)))
        elif re.fullmatch(r"[A-Za-z0-9]+", word):
            words.append(word.lower())
        if len(words) >= MAX_WORDS:
            break
    stem = "-".join(w for w in words if w)[:MAX_CHARS].strip("-") or "case"
    prefix = (date or "")[:10]
    prefix = prefix if re.fullmatch(r"\d{4}(-\d{2}){0,2}", prefix) else "undated"
    return re.sub(r"[^a-z0-9-]+", "", f"{prefix}-{stem}".lower())


def unique_slug(base: str, taken: set[str]) -> str:
    slug, number = base, 2
    while slug in taken:
        slug, number = f"{base}-{number}", number + 1
    return slug
