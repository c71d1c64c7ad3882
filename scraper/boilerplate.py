"""Drop page furniture (navigation, share bars, disclaimers, ICP lines) from a story's blocks.

The phrases are data (scraper/data/boilerplate.yaml); this module only applies them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from scraper.data import Data


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _plain(block: str) -> str:
    """A block's text without Markdown emphasis, for matching."""
    return re.sub(r"[*_#>]+", "", block).strip()


def is_boilerplate(block: str, data: Data) -> bool:
    text = _plain(block)
    return any(p.search(text) for p in _compiled(tuple(data.boilerplate.get("lines", []))))


def is_cut_marker(block: str, data: Data) -> bool:
    text = _plain(block)
    return any(p.search(text) for p in _compiled(tuple(data.boilerplate.get("cut_after", []))))


def strip_boilerplate(blocks: list[str], data: Data) -> list[str]:
    """Blocks up to the first cut marker, without boilerplate lines."""
    kept: list[str] = []
    for block in blocks:
        if is_cut_marker(block, data):
            break
        lines = [line for line in block.split("\n") if line.strip() and not is_boilerplate(line, data)]
        if lines:
            kept.append("\n".join(lines))
    return kept
