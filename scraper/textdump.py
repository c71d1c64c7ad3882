"""Plain-text dumps of web pages: paragraphs, sentences broken around image captions,
headings written as short lines.

A dump loses the page's markup: every line is a paragraph, an image leaves its caption
in the middle of a sentence, and headings are short lines without punctuation. The
repair rules (which endings cannot close a sentence, how long a caption is) are data
in textrules.yaml.
"""

from __future__ import annotations

import re

import rjieba

from casebook.data import Data

NUMBERED_HEADING_RE = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|（[一二三四五六七八九十]+）|第[一二三四五六七八九十]+[部分章节]|附[:：])")
QUOTE_PAIRS = (("“", "”"), ("「", "」"), ("《", "》"), ("（", "）"), ("(", ")"))


def paragraphs(text: str) -> list[str]:
    """Every non-empty line of a dump is a paragraph (dumps do not hard-wrap)."""
    return [re.sub(r"[ \t\u3000\xa0]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")
            if line.strip()]


def ends_sentence(text: str, data: Data) -> bool:
    return bool(text) and text[-1] in data.textrules["sentence_endings"]


def unbalanced(text: str) -> bool:
    return any(text.count(a) > text.count(b) for a, b in QUOTE_PAIRS)


def _boundary_word(left: str, right: str) -> bool:
    """True when word segmentation puts a word across the join: 副总经|理 -> 副总经理."""
    window_left, window_right = left[-4:], right[:4]
    if not (window_left and window_right):
        return False
    # The left side must end mid-word: its own last word is a single character (副总经|理),
    # not a whole word that merely happens to join the next one (旧貌换新|楼栋).
    own_words = rjieba.cut(left[-6:])
    if not own_words or len(own_words[-1]) > 1:
        return False
    joined = window_left + window_right
    cut = len(window_left)
    position = 0
    for word in rjieba.cut(joined):
        start, position = position, position + len(word)
        if start < cut < position and len(word) >= 2 and re.fullmatch(r"[\u4e00-\u9fff]+", word):
            return True
    return False


def _dangling(text: str, data: Data) -> bool:
    rules = data.textrules
    if any(text.endswith(word) for word in rules["dangling_endings"]):
        return True
    last_clause = re.split(r"[，,；;：:]", text)[-1]
    for coverb in rules["open_coverbs"]:
        index = last_clause.rfind(coverb)
        if index >= 0 and len(last_clause) - index - 1 <= 4 and index > 0:
            return True
    return False


def looks_like_heading(text: str, data: Data) -> bool:
    if NUMBERED_HEADING_RE.match(text) and len(text) <= data.textrules["max_heading_chars"]:
        return True
    if ends_sentence(text, data) or len(text) > data.textrules["max_heading_chars"] or len(text) < 4:
        return False
    if re.search(r"[。；;：:]", text) or unbalanced(text):
        return False
    # A comma is allowed in a short heading (聚焦老年群体，提供适老化社区服务), not in a long line.
    return not re.search(r"[，,]", text) or len(text) <= 24


def is_broken(left: str, right: str, data: Data, *, caption_between: bool) -> bool:
    """Was one sentence split into `left` and `right`?"""
    if ends_sentence(left, data) or left.startswith(("#", "![")) or right.startswith(("#", "![")):
        return False
    if unbalanced(left) or _dangling(left, data):
        return True
    if _boundary_word(left, right) and not looks_like_heading(right, data):
        # (two heading-like lines in a row are a headline and its subtitle, whatever word
        # their junction happens to spell)
        return True
    if caption_between and not looks_like_heading(left, data):
        return True
    return bool(re.search(r"[，,、]", left)) and not looks_like_heading(left, data) and len(left) > 20


def is_caption(text: str, data: Data) -> bool:
    """An image caption left in a dump: short and closed by a full stop (启动仪式现场。). A short
    line without one is a heading or a subtitle, which must never be dropped."""
    return (len(text) <= data.textrules["max_caption_chars"] and not unbalanced(text)
            and text.endswith(("。", ".")))


# A rejoined paragraph stops growing here: every join re-reads the paragraph (open quotes, its
# last clause), so a hostile dump of 100,000 broken lines would otherwise be quadratic.
MAX_JOINED_CHARS = 4000


def repair(paras: list[str], data: Data) -> list[str]:
    """Rejoin sentences that a dump broke, dropping the orphaned image captions between them."""
    out: list[str] = []
    i = 0
    while i < len(paras):
        current = paras[i]
        while i + 1 < len(paras) and len(current) < MAX_JOINED_CHARS:
            nxt = paras[i + 1]
            # An orphaned image caption between the halves comes first: "大家看到了 / 市民观察员
            # 走进小区院落。/ 学校在……" is one sentence and a caption, not a sentence ending in it.
            if (i + 2 < len(paras) and is_caption(nxt, data) and not is_caption(paras[i + 2], data)
                    and is_broken(current, paras[i + 2], data, caption_between=True)):
                current, i = current + paras[i + 2], i + 2
                continue
            if is_broken(current, nxt, data, caption_between=False):
                current, i = current + nxt, i + 1
                continue
            break
        out.append(current)
        i += 1
    return out


def mark_headings(paras: list[str], data: Data) -> list[str]:
    """Short unpunctuated lines between paragraphs become ## headings."""
    from scraper.metadata import parse_byline

    out = []
    for index, para in enumerate(paras):
        if parse_byline(para):
            out.append(para)
            continue
        followed_by_text = index + 1 < len(paras) and not paras[index + 1].startswith("#")
        if followed_by_text and looks_like_heading(para, data):
            out.append("## " + para)
        else:
            out.append(para)
    return out
