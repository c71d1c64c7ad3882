"""Category, theme tags and the relevance gate, from the keyword rules in taxonomy.yaml.

Relevance is local evidence: a named bank, a community term and an action term inside
one window of consecutive sentences, in the story's lead or across a good share of it.
The verdict's reason quotes the passage that decided it, or says what was missing."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

import rjieba

from casebook.data import Data
from casebook.model import plain_text
from scraper import entities


@dataclass
class Verdict:
    relevant: bool
    reason: str


def categorize(title: str, body: str, data: Data) -> str:
    weight = data.taxonomy.get("title_weight", 3)
    best, best_score = data.category_names[0], -1
    for category in data.taxonomy["categories"]:
        score = 0
        for keyword, points in category["keywords"].items():
            score += points * (body.count(keyword) + weight * title.count(keyword))
        if score > best_score:
            best, best_score = category["name"], score
    return best


def tag(title: str, body: str, data: Data) -> list[str]:
    text = f"{title}\n{body}"
    tags = []
    for rule in data.taxonomy["tags"]:
        mentions = sum(text.count(k) for k in rule["keywords"])
        if mentions >= rule.get("min_mentions", 1):
            tags.append(rule["name"])
    return tags


SENTENCE_RE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?[”’」』]?")
SNIPPET_CHARS = 90
MARKUP_RE = re.compile(r"[\[\]*_`<>&\\]")   # a block without these is plain text already


@dataclass
class Sentence:
    text: str
    start: int                      # offset in the story's joined text
    banks: set[str] = field(default_factory=set)
    community: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    local: bool = False             # names a branch, its staff, a neighbourhood or a village
    statistics: bool = False        # reports money totals


@dataclass(eq=False)
class RelevanceRules:
    community_re: re.Pattern[str]
    action_re: re.Pattern[str]
    local_re: re.Pattern[str]
    window: int
    lead_share: float
    lead_sentences: int
    min_cover_share: float
    excluded_types: frozenset[str]
    statistics_re: re.Pattern[str]
    min_bank_chars: int


@lru_cache(maxsize=4)
def relevance_rules(data: Data) -> RelevanceRules:
    rules = data.taxonomy["relevance"]

    def alternation(words: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))

    return RelevanceRules(alternation(rules["community_terms"]), alternation(rules["action_terms"]),
                          alternation(rules.get("local_terms") or ["(?!)"]),
                          int(rules.get("window_sentences", 3)), float(rules.get("lead_share", 0.34)),
                          int(rules.get("lead_sentences", 3)), float(rules.get("min_cover_share", 0.25)),
                          frozenset(rules.get("excluded_bank_types", [])),
                          re.compile(rules.get("statistics_pattern") or r"(?!)"), int(rules.get("min_bank_name_chars", 3)))


def sentences(title: str, blocks: list[str], data: Data) -> list[Sentence]:
    """The title, then every sentence of the story's text paragraphs, with the named banks,
    community terms and action terms each one holds."""
    rules = relevance_rules(data)
    paragraphs = [title] + [plain_text(b) if MARKUP_RE.search(b) else b for b in blocks if not b.startswith(("#", "!"))]
    found: list[Sentence] = []
    offset = 0
    for paragraph in paragraphs:
        for match in SENTENCE_RE.finditer(paragraph):
            if match.group(0).strip():
                found.append(Sentence(match.group(0).strip(), offset + match.start()))
        offset += len(paragraph) + 1
    joined = "\n".join(paragraphs)
    starts = [s.start for s in found]
    if not found:
        return found
    for start, end, name in entities.bank_hits(joined, data):
        if entities.bank_type(name, data) in rules.excluded_types:
            continue
        if end - start < rules.min_bank_chars and not _whole_word(joined, start, end):
            continue   # 工行 inside 施工行业, 中行 inside 集中行动
        found[max(0, bisect.bisect_right(starts, start) - 1)].banks.add(name)
    for sentence in found:
        # Terms are read with bank names blanked out: 建设 in 建设银行 is not an action.
        text = entities.mask(sentence.text, entities.bank_index(data).alias_re) if sentence.banks else sentence.text
        sentence.community = set(rules.community_re.findall(text))
        sentence.actions = set(rules.action_re.findall(text))
        sentence.local = bool(rules.local_re.search(text))
        sentence.statistics = bool(rules.statistics_re.search(text))
    return found


def _whole_word(text: str, start: int, end: int) -> bool:
    """Do word boundaries (jieba's segmentation of the text around it) fall at both ends of
    a short name? 建行|成都|分行 yes; 施工|行业 no."""
    left = max(0, start - 8)
    offsets, position = set(), left
    for word in rjieba.cut(text[left:end + 8]):
        offsets.add(position)
        position += len(word)
    offsets.add(position)
    return start in offsets and end in offsets


def _snippet(window: list[Sentence]) -> str:
    text = " ".join(s.text for s in window if s.banks) or window[0].text
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"


def _evidence(found: list[Sentence], size: int) -> list[int]:
    """Start of every window of `size` sentences holding a named bank, a community term and
    an action term."""
    starts = []
    for i in range(len(found)):
        window = found[i:i + size]
        if (any(s.banks for s in window) and any(s.community for s in window)
                and any(s.actions for s in window) and any(s.local for s in window)
                and not any(s.statistics for s in window if s.banks)):
            starts.append(i)
    return starts


def judge_story(title: str, blocks: list[str], data: Data) -> Verdict:
    """Is this a story of a named bank or credit cooperative doing community-level work?
    Decided from the passage where both appear, never from counts over the whole text."""
    rules = relevance_rules(data)
    found = sentences(title or "", blocks, data)
    banks = list(dict.fromkeys(b for s in found for b in s.banks))
    if not banks:
        generic = sum(s.text.count("银行") for s in found)
        if generic:
            return Verdict(False, f"names no bank or credit cooperative (银行 only in general, {generic}×)")
        return Verdict(False, "names no bank or credit cooperative")
    starts = _evidence(found, rules.window)
    if not starts:
        nearest = next(s for s in found if s.banks)
        return Verdict(False, f"names {'、'.join(banks[:3])} but no passage puts it beside community work "
                              f"(a community term such as 社区/居民/老年人 and an action): “{_snippet([nearest])}”")
    first = starts[0]
    window = found[first:first + rules.window]
    bank = next(b for s in window for b in sorted(s.banks))
    terms = sorted({t for s in window for t in s.community}) + sorted({t for s in window for t in s.actions})
    # The share of the story that is bank-community text: sentences inside evidence windows
    # that themselves name the bank or the community (overlapping windows count a sentence once).
    covered = {i for start in starts for i in range(start, min(len(found), start + rules.window))
               if found[i].banks or found[i].community}
    # Where the evidence is: its first sentence naming the bank (a window may start earlier).
    at = next(i for i in range(first, first + rules.window) if found[i].banks)
    in_lead = at <= max(rules.lead_sentences, rules.lead_share * len(found))
    if not in_lead and len(covered) < rules.min_cover_share * len(found):
        return Verdict(False, f"{bank} + {'/'.join(terms[:4])} only in one passage, sentence {at} of "
                              f"{len(found)}, not what the story is about: “{_snippet(window)}”")
    return Verdict(True, f"{bank} + {'/'.join(terms[:4])} in one passage: “{_snippet(window)}”")
