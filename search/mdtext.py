"""The text a search index holds of a case: its Markdown body without the Markdown.

Links become their text, images and reference definitions go, heading, quote and list
markers, table pipes and rules, emphasis and code marks are removed, HTML tags are dropped
(the content of <script> and <style> with them) and entities decoded. One line per block,
no empty lines.

Why not a Markdown parser: a real one (markdown-it-py, tokens only, no HTML) cost 0.6–0.8 ms
per case against 0.1 ms here, and this runs in the build's own process for every case
(8 s of a 60 s build at 10,000 cases). The index needs the words a reader sees, not the
document structure, and every pattern below is linear in the text (no nested quantifiers,
character classes that stop at the next bracket), so hostile bodies cost no more than
ordinary ones.
"""

from __future__ import annotations

import html
import re

from casebook.safety import strip_invisible

# A backslash escape protects one ASCII punctuation character from every rule below: it is
# swapped for a private character first and put back last.
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_PROTECTED = 0xF0000
_RESTORE = {_PROTECTED + code: chr(code) for code in range(33, 127)}

_FENCE_RE = re.compile(r"^[ \t]{0,3}(?:`{3,}|~{3,})[^\n]*$", re.MULTILINE)
_AUTOLINK_RE = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]*)>", re.IGNORECASE)
_BLOCK_TAG_RE = re.compile(r"</?(?:p|div|br|li|ul|ol|tr|td|th|table|thead|tbody|h[1-6]|blockquote|pre|section|"
                           r"article|header|footer|figure|figcaption|hr|dd|dt|dl)\b[^<>]*>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_RAW_TEXT_TAGS = ("script", "style", "template", "textarea")
_IMAGE_RE = re.compile(r"!\[[^\[\]]*\](?:\([^()]*\)|\[[^\[\]]*\])?")
_LINK_RE = re.compile(r"\[([^\[\]]*)\](?:\([^()]*\)|\[[^\[\]]*\])")
_REFERENCE_RE = re.compile(r"^[ \t]{0,3}\[[^\[\]\n]+\]:[ \t]*\S[^\n]*$", re.MULTILINE)
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t][^\n]*+)?$", re.MULTILINE)
_RULE_RE = re.compile(r"^[ \t]{0,3}(?:(?:[-*_=][ \t]*){3,}|=+|-+)[ \t]*$", re.MULTILINE)
_QUOTE_RE = re.compile(r"^(?:[ \t]{0,3}>)+[ \t]?", re.MULTILINE)
_LIST_RE = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?", re.MULTILINE)
_TABLE_RULE_RE = re.compile(r"^[ \t]*+\|?[ \t]*+:?-++:?[ \t]*+(?:\|[ \t]*+:?-++:?[ \t]*+)++\|?[ \t]*+$", re.MULTILINE)
_TABLE_ROW_RE = re.compile(r"^[ \t]*\|[^\n]*$", re.MULTILINE)
_EMPHASIS_RE = re.compile(r"\*++|~~++|`++")
_UNDERSCORES_RE = re.compile(r"_++")


def markdown_text(markdown: str) -> str:
    """The plain text of a Markdown body (see the module's docstring)."""
    text = strip_invisible(markdown.replace("\r\n", "\n").replace("\r", "\n"))
    text = _ESCAPE_RE.sub(lambda m: chr(_PROTECTED + ord(m.group(1))), text)
    text = _without_html(text)
    text = _FENCE_RE.sub("", text)
    text = _REFERENCE_RE.sub("", text)
    text = _IMAGE_RE.sub("", text)
    text = _LINK_RE.sub(r"\1", text)
    text = _TABLE_RULE_RE.sub("", text) if "|" in text else text
    text = _TABLE_ROW_RE.sub(lambda m: m.group().replace("|", " "), text) if "|" in text else text
    text = _QUOTE_RE.sub("", text)
    text = _HEADING_RE.sub(_heading_text, text) if "#" in text else text
    text = _RULE_RE.sub("", text)
    text = _LIST_RE.sub("", text)
    text = _EMPHASIS_RE.sub("", text)
    text = _UNDERSCORES_RE.sub(_underscores, text) if "_" in text else text
    text = html.unescape(text.translate(_RESTORE))
    return "\n".join(line for line in (raw.strip() for raw in text.split("\n")) if line)


def _heading_text(match: re.Match[str]) -> str:
    """An ATX heading's text: without its opening hashes, nor closing ones set off by a space."""
    text = match.group().strip(" \t").lstrip("#").strip(" \t")
    bare = text.rstrip("#")
    return bare.rstrip(" \t") if not bare or bare[-1] in " \t" else text


def _underscores(match: re.Match[str]) -> str:
    """Underscores mark emphasis only at a word's edge (CommonMark): snake_case and 中_文 keep theirs."""
    text, start, end = match.string, match.start(), match.end()
    inside = start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()
    return match.group() if inside else ""


def _without_html(text: str) -> str:
    """Comments, raw-text elements (script, style, ...) and tags removed; a block-level tag
    ends a line. Autolinks (<https://...>) keep their address as text."""
    if "<" not in text:
        return text
    text = _cut_between(text, "<!--", "-->")
    lowered = text.lower()
    for name in _RAW_TEXT_TAGS:
        if f"<{name}" in lowered:
            text = _cut_element(text, name)
            lowered = text.lower()
    text = _AUTOLINK_RE.sub(r"\1", text)
    text = _BLOCK_TAG_RE.sub("\n", text)
    return _TAG_RE.sub("", text)


def _cut_between(text: str, start: str, end: str) -> str:
    """`text` without every span from `start` to the next `end` (to the end of the text when
    none follows). One pass of str.find: a regex with a lazy `.*?` rescans the rest of the
    text from each unclosed start, quadratic on hostile input."""
    out: list[str] = []
    position = 0
    while (found := text.find(start, position)) != -1:
        out.append(text[position:found])
        closing = text.find(end, found + len(start))
        if closing == -1:
            return "".join(out)
        position = closing + len(end)
    out.append(text[position:])
    return "".join(out)


def _cut_element(text: str, name: str) -> str:
    """`text` without <name ...>...</name> elements, their content included; one pass."""
    lowered = text.lower()
    out: list[str] = []
    position = 0
    opening_re = re.compile(rf"<{name}\b", re.IGNORECASE)
    closing = f"</{name}"
    while (match := opening_re.search(text, position)) is not None:
        out.append(text[position:match.start()])
        end = lowered.find(closing, match.end())
        if end == -1:
            return "".join(out)
        after = lowered.find(">", end)
        position = len(text) if after == -1 else after + 1
    out.append(text[position:])
    return "".join(out)
