"""Drop page furniture (navigation, share bars, disclaimers, ICP lines) from a story's blocks.

The phrases are data (scraper/data/boilerplate.yaml); this module only applies them, plus
signals of shape that phrases cannot list: short `label：name` credit lines (editor blocks),
lines made only of share-bar words, blocks of links (推荐阅读 lists), date lines left in the
article block. Furniture is removed wherever it sits in the block; a removal that is a close
call (a long line, a dated line with words of its own, a list of links) is written to the
review notes so an editor can put the line back.
"""

from __future__ import annotations

import re
from functools import lru_cache

from casebook.data import Data
from scraper.dates import FULL_RE
from scraper.script import simplified

# Brackets and parentheses excluded inside: each match attempt stops at the next one, so a
# run of "[a](" is read once (with [^)]* every "(" scanned to the end of the line).
LINK_RE = re.compile(r"!?\[([^\[\]\n]*)\]\([^()\n]*\)")
SENTENCE_RE = re.compile(r"[。！？!?，,；;]")
CLOSE_CALL_CHARS = 60


@lru_cache(maxsize=8)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


def _plain(block: str) -> str:
    """A block's text without Markdown emphasis, for matching."""
    return re.sub(r"[*_#>]+", "", block).strip()


@lru_cache(maxsize=8)
def _credit_re(labels: tuple[str, ...]) -> re.Pattern[str]:
    names = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    pair = rf"(?:{names})\s*[:：丨|｜]\s*[^:：丨|｜。！？!?]{{1,24}}?"
    return re.compile(rf"^{pair}(?:\s*[|｜丨/;；、,，\s]\s*{pair})*$")


def _unbracket(text: str) -> str:
    return re.sub(r"^[（(【\[]\s*(.*?)\s*[）)】\]]$", r"\1", text.strip())


def is_credit_line(text: str, data: Data) -> bool:
    """栏目主编：张三 文字编辑：李四, （责编：王五）: only label：name pairs, short."""
    rules = data.boilerplate
    text = _unbracket(text)
    if not text or len(text) > rules.get("credit_line_chars", 60):
        return False
    return bool(_credit_re(tuple(rules.get("credit_labels", []))).match(text))


def is_share_bar(text: str, data: Data) -> bool:
    words = set(data.boilerplate.get("share_words", []))
    tokens = [t for t in re.split(r"[\s|｜丨/、:：,，·•]+", text) if t]
    return len(tokens) >= 2 and all(t in words for t in tokens)


def _dateline_rest(text: str, data: Data) -> str | None:
    """What a date line holds besides its date and labels, or None when it is not one."""
    match = FULL_RE.search(text)
    if not match or len(text) > CLOSE_CALL_CHARS:
        return None
    rest = (text[:match.start()] + " " + text[match.end():]).strip()
    if SENTENCE_RE.search(rest) or len(rest) > data.boilerplate.get("dateline_rest_chars", 30):
        return None
    labels = data.boilerplate.get("dateline_labels", "(?!)")
    return re.sub(rf"(?:{labels})|[\W_\d]+", "", rest)


def furniture_reason(line: str, data: Data) -> str | None:
    """Why `line` is page furniture ("" for a sure call, a reason for a close call), or None."""
    text = _plain(LINK_RE.sub(r"\1", line)) if "](" in line else _plain(line)
    text = simplified(text)   # the rules are Simplified; 責任編輯 is 责任编辑
    if not text:
        return None
    rules = data.boilerplate
    for pattern in _compiled(tuple(rules.get("lines", []))):
        if pattern.search(text):
            return f"matches {pattern.pattern!r}" if len(text) > CLOSE_CALL_CHARS else ""
    if len(text) <= rules.get("short_line_chars", 40) and "。" not in text and any(
            p.search(text) for p in _compiled(tuple(rules.get("short_lines", [])))):
        return ""
    if is_credit_line(text, data) or is_share_bar(text, data):
        return ""
    rest = _dateline_rest(text, data)
    if rest is not None:
        return "a dated line with words of its own" if len(rest) > 8 else ""
    return None


def is_link_list(block: str, data: Data) -> bool:
    """A block of link lines (推荐阅读, 相关新闻 without their heading)."""
    lines = [line.strip().lstrip("-*•· ").strip() for line in block.split("\n") if line.strip()]
    if len(lines) < data.boilerplate.get("link_list_lines", 2):
        return False
    density = data.boilerplate.get("link_density", 0.7)
    for line in lines:
        linked = sum(len(m.group(1)) for m in LINK_RE.finditer(line))
        plain = len(LINK_RE.sub(r"\1", line))
        if not linked or linked < density * plain:
            return False
    return True


def is_cut_marker(block: str, data: Data) -> bool:
    text = _plain(block)
    return any(p.search(text) for p in _compiled(tuple(data.boilerplate.get("cut_after", []))))


def strip_boilerplate(blocks: list[str], data: Data, notes: list[str] | None = None) -> list[str]:
    """Blocks up to the first cut marker, without furniture lines or link lists. Close calls
    are appended to `notes` (review notes for the editor)."""
    kept: list[str] = []
    for block in blocks:
        if is_cut_marker(block, data):
            break
        if is_link_list(block, data):
            _note(notes, block, "a list of links")
            continue
        lines = []
        for line in block.split("\n"):
            if not line.strip():
                continue
            reason = furniture_reason(line, data)
            if reason is None:
                lines.append(line)
            elif reason:
                _note(notes, line, reason)
        if lines:
            kept.append("\n".join(lines))
    return kept


def _note(notes: list[str] | None, text: str, reason: str) -> None:
    if notes is not None:
        shown = " ".join(text.split())
        shown = shown if len(shown) <= 80 else shown[:78] + "…"
        notes.append(f"furniture: removed “{shown}” ({reason}); put it back if it belongs to the story")


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
