"""Traditional and Simplified characters.

The site speaks Simplified Chinese. A story written in Traditional characters (a Taiwan or
Hong Kong portal, a Big5 page) is published in Simplified (scraper/normalize.py), and the
rules that recognise furniture by its words (written in Simplified in scraper/data) read a
Simplified view of the page (OpenCC t2s, which leaves Simplified text as it is: the seeds and
the Simplified fixture pages convert to themselves).
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# Share of Han characters that t2s changes above which a text is Traditional: Simplified
# pages measure 0–0.1 %, Traditional pages 30–45 %.
TRADITIONAL_SHARE = 0.08


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def traditional_share(text: str) -> float:
    han = "".join(HAN_RE.findall(text[:20_000]))
    if not han:
        return 0.0
    converted = _t2s().convert(han)
    return sum(a != b for a, b in zip(han, converted, strict=False)) / len(han)


def is_traditional(text: str) -> bool:
    return traditional_share(text) >= TRADITIONAL_SHARE


def simplified(text: str) -> str:
    """The Simplified view of `text` (the same text when it has no Traditional characters)."""
    if not HAN_RE.search(text):
        return text
    return _t2s().convert(text)
