"""A main-text finder for Chinese news pages, by text density.

Chinese article text is long runs of characters broken by full-width punctuation (，。、)
with few links; navigation, lists of headlines, footers and share bars are short, link-heavy
and punctuation-poor. Each block element is scored from its paragraphs (CJK characters
outside links, weighted by punctuation, less link text), the score is passed up to its
ancestors with decay (as readability does), and the best block is the article. Page
furniture is pruned first by tag and by class/id words (kept as data in sites.yaml's
`noise_words`). Pages that append more stories below the first (infinite scroll) are cut at
the first repeated article container.
"""

from __future__ import annotations

import re

from lxml import etree
from lxml import html as lxml_html

DROP_TAGS = ("script", "style", "noscript", "iframe", "form", "button", "input", "select", "textarea", "nav",
             "footer", "aside", "svg", "canvas", "template", "object", "embed", "audio", "video")
BLOCK_TAGS = {"div", "article", "section", "main", "td", "body", "li", "ul", "dd", "center", "font", "span"}
CJK_RE = re.compile(r"[\u3400-\u9fff]")
PUNCT_RE = re.compile(r"[，。、；：！？“”,.;:!?]")
NOISE_RE = re.compile(
    r"(?:^|[\s_-])(?:comment|comments|footer|foot|share|sharing|recommend|related|relate|sidebar|side|aside|nav|"
    r"navbar|menu|breadcrumb|crumb|copyright|advert|ads?|adv|banner|hot|hotnews|rank|ranking|toolbar|tool|login|"
    r"subscribe|social|pagination|pager|next|prev|author-info|qrcode|qr|download|app-?down|guess|more|topbar|"
    r"header|top-nav|bottom|statement|disclaimer|tags|keywords|feedback|report|search)(?:$|[\s_-])",
    re.IGNORECASE)


STRONG_NOISE_RE = re.compile(
    r"(?:^|[\s_-])(?:footer|foot|copyright|comment|comments|share|sharing|recommend|related|sidebar|breadcrumb|"
    r"crumb|nav|navbar|topbar|disclaimer|statement)(?:$|[\s_-]|\d)", re.IGNORECASE)


def _text(node: etree._Element) -> str:
    return re.sub(r"\s+", " ", node.text_content() or "").strip()


def _link_text_len(node: etree._Element) -> int:
    return sum(len(_text(a)) for a in node.iter("a"))


def _prune(root: etree._Element, keep: etree._Element | None = None) -> None:
    """Drop furniture, never the headline `keep` or anything holding it."""
    protected = set(keep.iterancestors()) | {keep} if keep is not None else set()
    for bad in root.xpath("//comment() | //processing-instruction()"):
        parent = bad.getparent()
        if parent is not None:
            bad.drop_tree() if hasattr(bad, "drop_tree") else parent.remove(bad)
    for node in list(root.iter(*DROP_TAGS)):
        if node not in protected:
            node.drop_tree()
    for node in list(root.iter()):
        if not isinstance(node.tag, str) or node.tag in ("html", "body") or node in protected:
            continue
        marker = f"{node.get('class', '')} {node.get('id', '')}"
        if marker.strip() and STRONG_NOISE_RE.search(marker) and len(CJK_RE.findall(_text(node))) < 800:
            node.drop_tree()
            continue
        if marker.strip() and NOISE_RE.search(marker):
            text = _text(node)
            links = _link_text_len(node)
            punctuation = len(PUNCT_RE.findall(text))
            # Only furniture goes: little text, or mostly links, or hardly a sentence.
            if len(text) < 300 or links > 0.4 * max(1, len(text)) or punctuation < len(text) / 80:
                node.drop_tree()


def _paragraph_score(node: etree._Element) -> float:
    text = _text(node)
    cjk = len(CJK_RE.findall(text))
    if cjk < 8:
        return 0.0
    link = _link_text_len(node)
    if link > 0.5 * len(text):
        return 0.0
    punctuation = len(PUNCT_RE.findall(text))
    return (cjk - link) * (1 + min(punctuation, 20) / 10)


def _own_text(node: etree._Element) -> str:
    return (node.text or "") + "".join(child.tail or "" for child in node)


def block_scores(root: etree._Element) -> dict[etree._Element, float]:
    """Every block's score: its paragraphs' scores, passed up three levels with decay."""
    scores: dict[etree._Element, float] = {}
    for para in root.iter("p", "td", "li", "div", "section", "span", "font", "pre", "blockquote"):
        if para.tag in ("p", "pre", "blockquote"):
            score = _paragraph_score(para)
        else:
            # A block holding text of its own (not only in child blocks) is a paragraph too.
            own = _own_text(para)
            cjk = len(CJK_RE.findall(own))
            if cjk < 20:
                continue
            score = cjk * (1 + min(len(PUNCT_RE.findall(own)), 20) / 10)
        if not score:
            continue
        weight = 1.0
        node = para
        for _ in range(3):
            node = node.getparent()
            if node is None:
                break
            scores[node] = scores.get(node, 0.0) + score * weight
            weight *= 0.5
    return scores


def best_block(root: etree._Element) -> etree._Element | None:
    scores = block_scores(root)
    if not scores:
        return None

    def adjusted(item: tuple[etree._Element, float]) -> float:
        node, score = item
        return score * (1 - _link_text_len(node) / max(1, len(_text(node))))

    return _trim_repeats(max(scores.items(), key=adjusted)[0])


def _is_story(node: etree._Element) -> bool:
    """A container that is a whole story: a headline and several paragraphs."""
    has_heading = next(node.iter("h1", "h2", "h3"), None) is not None
    paragraphs = sum(1 for p in node.iter("p") if len(CJK_RE.findall(_text(p))) > 20)
    return has_heading and paragraphs >= 2


def _trim_repeats(block: etree._Element) -> etree._Element:
    """Infinite-scroll pages repeat the story container; keep the first story only."""
    stories = [c for c in block if isinstance(c.tag, str) and _is_story(c)]
    if len(stories) > 1:
        return stories[0]
    return block


def _similar(a: str, b: str) -> bool:
    a, b = re.sub(r"\W+", "", a), re.sub(r"\W+", "", b)
    if len(a) < 4 or len(b) < 4:
        return False
    return a in b or b in a or len(set(a) & set(b)) >= 0.7 * min(len(set(a)), len(set(b)))


def title_node(root: etree._Element, title: str | None) -> etree._Element | None:
    """The page's own headline element: the h1 (or h2) whose text matches the title."""
    candidates = list(root.iter("h1")) or list(root.iter("h2"))
    if not title:
        return candidates[0] if len(candidates) == 1 else None
    headline = re.split(r"(?<!\s)(?:\s*+(?:_|｜|\|)|\s++[-–—](?=\s))\s*+", title.strip())[0]
    for node in [*root.iter("h1"), *root.iter("h2"), *root.iter("h3")]:
        text = _text(node)
        if _similar(text, title) or (len(headline) >= 2 and text == headline):
            return node
    # Some portals write the headline in a <div class="title">.
    for node in root.xpath("//*[contains(@class, 'title') or contains(@id, 'title')]"):
        text = _text(node)
        if node.tag not in ("head", "title", "a") and len(text) <= 2 * len(title) + 10 and _similar(text, title):
            return node
    return None


def anchored_block(headline: etree._Element) -> etree._Element | None:
    """The best block of the story that holds the headline: the nearest ancestor of the
    headline with real text of its own, searched inside only (appended stories and
    recommendation lists are its siblings, not its children)."""
    title_len = len(CJK_RE.findall(_text(headline)))
    for ancestor in list(headline.iterancestors())[:6]:
        body = len(CJK_RE.findall(_text(ancestor))) - title_len
        if body >= 60:
            scores = block_scores(ancestor)
            scores[ancestor] = scores.get(ancestor, 0.0)
            inside = {n: v for n, v in scores.items() if n is ancestor or ancestor in n.iterancestors()}
            best = max(inside.items(), key=lambda kv: kv[1] * (1 - _link_text_len(kv[0]) / max(1, len(_text(kv[0])))))[0]
            covered = len(CJK_RE.findall(_text(best))) / max(1, body)
            links = _link_text_len(ancestor) / max(1, len(_text(ancestor)))
            if covered < 0.6 and links < 0.3 and body < 4000:
                # The story is spread over several blocks (a poem, then its notes): keep them all.
                return ancestor
            return best if best is not ancestor or body < 4000 else None
    return None


def find_main(page: str, title: str | None = None) -> tuple[str, bool] | None:
    """(the article block as HTML, whether it was found under the page's own headline)."""
    try:
        root = lxml_html.document_fromstring(page)
    except (etree.ParserError, ValueError):
        return None
    headline = title_node(root, title)
    _prune(root, keep=headline)
    block = anchored_block(headline) if headline is not None else None
    anchored = block is not None
    if block is None:
        block = best_block(root)
    if block is None:
        return None
    return etree.tostring(block, encoding="unicode", method="html"), anchored
