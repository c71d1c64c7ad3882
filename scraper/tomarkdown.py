"""Article HTML to clean Markdown: sanitize (scraper/sanitize.py), unwrap image proxies,
promote bold-only paragraphs to headings, convert (markdownify), tidy."""

from __future__ import annotations

import html as html_lib
import re
from urllib.parse import unquote, urljoin

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, PageElement, ProcessingInstruction
from markdownify import MarkdownConverter

from scraper.sanitize import sanitize

# markdownify converts recursively, a few Python frames per element: markup nested deeper than
# this is flattened first (the text stays; deep blocks become line breaks). Real articles
# nest a dozen levels; a hostile page nests thousands.
MAX_MARKUP_DEPTH = 64
BLOCK_TAGS = frozenset({"p", "div", "section", "article", "li", "ul", "ol", "table", "tr", "td", "th",
                        "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "figure", "figcaption", "pre"})
VOID_TAGS = frozenset({"br", "img", "hr", "meta", "link", "input", "source", "wbr", "area", "col", "embed"})
LAZY_SRC_ATTRS = ("data-src", "data-original", "data-actualsrc", "data-lazy-src", "data-echo", "original")


def unwrap_image_url(url: str, proxies: list[str], base_url: str | None = None) -> str:
    url = url.strip()
    if url.startswith("//"):
        url = "https:" + url
    elif base_url and not re.match(r"^https?://", url):
        url = urljoin(base_url, url)
    for pattern in proxies:
        match = re.match(pattern, url)
        if match:
            inner = match.group(1)
            return unquote(inner) if "%3A" in inner[:12].upper() else inner
    return url


class _Converter(MarkdownConverter):
    """markdownify with Chinese-friendly output: no emphasis markers inside headings,
    images as ![alt](src)."""

    # markdownify's signature (it passes parent_tags by name); only the element is needed.
    def convert_img(self, el: Tag, text: str, parent_tags: set | None = None, **kwargs: object) -> str:  # noqa: ARG002
        src = _attr(el, "src")
        if not src:
            return ""
        alt = _attr(el, "alt").replace("[", "").replace("]", "")
        return f"\n\n![{alt}]({src})\n\n"


def _promote_bold_paragraphs(soup: BeautifulSoup) -> None:
    """<p><strong>整合资源</strong></p> is a section heading; a second bold-only line right
    after it is the heading's subtitle (### under ##)."""
    previous_was_heading = False
    for p in soup.find_all(["p", "div"]):
        children = [c for c in p.contents if not (isinstance(c, NavigableString) and not c.strip())]
        is_bold_only = (len(children) == 1 and isinstance(children[0], Tag)
                        and children[0].name in ("strong", "b") and children[0].get_text(strip=True)
                        and not children[0].find("img") and len(children[0].get_text(strip=True)) <= 40)
        if is_bold_only:
            p.name = "h3" if previous_was_heading else "h2"
            p.string = children[0].get_text(" ", strip=True)
            previous_was_heading = True
        elif p.get_text(strip=True) or p.find("img"):
            previous_was_heading = False


def markup_depth(root: Tag) -> int:
    """How deep elements nest under `root` (iteratively: the tree may be hostile)."""
    depth: dict[int, int] = {id(root): 0}
    deepest = 0
    for node in root.descendants:
        if isinstance(node, Tag):
            level = depth.get(id(node.parent), 0) + 1
            depth[id(node)] = level
            deepest = max(deepest, level)
    return deepest


def _opening_tag(tag: Tag) -> str:
    attrs = "".join(f' {name}="{html_lib.escape(" ".join(value) if isinstance(value, list) else str(value))}"'
                    for name, value in tag.attrs.items())
    return f"<{tag.name}{attrs}>"


def _attr(tag: Tag, name: str) -> str:
    """An attribute as text: bs4 gives multi-valued ones (class, rel) as a list."""
    value = tag.get(name)
    return value if isinstance(value, str) else " ".join(value or [])


def capped_html(root: Tag, limit: int = MAX_MARKUP_DEPTH) -> str:
    """`root`'s contents as HTML with no element deeper than `limit`: deeper elements are
    dropped but their text kept, a deep block leaving a line break. Iterative and linear."""
    out: list[str] = []
    stack: list[tuple[PageElement, int, bool]] = [(child, 1, False) for child in reversed(root.contents)]
    while stack:
        node, level, closing = stack.pop()
        if closing and isinstance(node, Tag):   # only tags are pushed to be closed
            out.append(f"</{node.name}>")
            continue
        if isinstance(node, Tag):
            if level <= limit:
                out.append(_opening_tag(node))
                if node.name not in VOID_TAGS:
                    stack.append((node, level, True))
            elif node.name in BLOCK_TAGS or node.name == "br":
                out.append("<br>")
            stack.extend((child, level + 1, False) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(
                node, Comment | Declaration | Doctype | ProcessingInstruction):
            out.append(html_lib.escape(str(node), quote=False))
    return "".join(out)


def html_to_markdown(html: str, *, proxies: list[str], base_url: str | None = None) -> tuple[str, list[str]]:
    """(markdown, image URLs in order)."""
    soup = BeautifulSoup(html, "lxml")
    if markup_depth(soup) > MAX_MARKUP_DEPTH:
        soup = BeautifulSoup(capped_html(soup.body or soup), "lxml")
    for img in soup.find_all("img"):
        src = _attr(img, "src")
        for attr in LAZY_SRC_ATTRS:
            if _attr(img, attr) and (not src or src.startswith("data:") or "placeholder" in src or "blank" in src):
                src = _attr(img, attr)
        if not src or src.startswith("data:"):
            img.decompose()
            continue
        img["src"] = unwrap_image_url(src, proxies, base_url)
    for number, img in enumerate(soup.find_all("img"), start=1):
        if not _attr(img, "alt").strip():
            # Every image needs alt text; the caption is unknown, so say what it is.
            img["alt"] = f"配图{number}"
    _promote_bold_paragraphs(soup)
    body = soup.body or soup
    clean = sanitize(body.decode_contents() if hasattr(body, "decode_contents") else str(body))
    soup = BeautifulSoup(clean, "lxml")
    images = [_attr(img, "src") for img in soup.find_all("img") if _attr(img, "src")]
    markdown = _Converter(heading_style="ATX", bullets="-", strong_em_symbol="*", escape_asterisks=False,
                          escape_underscores=False, escape_misc=False).convert_soup(soup)
    return tidy_markdown(markdown), _dedupe(images)


def _dedupe(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def tidy_markdown(markdown: str) -> str:
    lines = [line.rstrip() for line in markdown.replace("\r\n", "\n").replace("\xa0", " ").split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    # [^\S\n]: spaces within the line only; \s would rescan every following empty line.
    text = re.sub(r"^[^\S\n]*\*\*[^\S\n]*\*\*[^\S\n]*$", "", text, flags=re.MULTILINE)
    return text.strip()
