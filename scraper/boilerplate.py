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


IMAGE_LINE_RE = re.compile(r"^\[?!\[[^\]]*\]\(([^)\s]+)\)\]?(?:\([^)]*\))?$")


def _is_noise_image(block: str, data: Data) -> bool:
    match = IMAGE_LINE_RE.match(block.strip())
    if not match:
        return False
    return any(p.search(match.group(1)) for p in _compiled(tuple(data.boilerplate.get("noise_images", []))))


def _is_short_fragment(block: str, data: Data) -> bool:
    # [^[\]] and [^()]: each match attempt stops at the next bracket, so runs of "[" are linear.
    text = _plain(re.sub(r"\[([^\[\]]*)\]\([^()]*\)", r"\1", block)).lstrip("- ").strip()
    return (0 < len(text) <= data.boilerplate.get("navigation_line_chars", 10)
            and not re.search(r"[。！？；，,.!?;]", text) and "\n" not in block)


def drop_page_furniture(blocks: list[str], data: Data) -> list[str]:
    """Furniture that extractors let through: logo and divider images, and runs of short
    unpunctuated lines (menus, channel lists)."""
    blocks = [b for b in blocks if not _is_noise_image(b, data)]
    run_length = data.boilerplate.get("navigation_run", 4)
    kept: list[str] = []
    run: list[str] = []
    for block in [*blocks, ""]:
        if block and _is_short_fragment(block, data) and not block.startswith("#"):
            run.append(block)
            continue
        if len(run) < run_length:
            kept.extend(run)
        run = []
        if block:
            kept.append(block)
    return kept
