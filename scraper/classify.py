"""Category, theme tags and the relevance gate, from the keyword rules in taxonomy.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from scraper.data import Data


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


def judge(text: str, bank_mentions: int, data: Data) -> Verdict:
    """Is this a story about a bank or credit cooperative serving a community?"""
    rules = data.taxonomy["relevance"]
    community = sum(text.count(term) for term in rules["community_terms"])
    if bank_mentions == 0:
        generic = text.count("银行")
        if generic:
            return Verdict(False, f"mentions banks only in general ({generic} times) and names none serving "
                                  "a community")
        return Verdict(False, "names no bank or credit cooperative")
    if bank_mentions < rules["min_bank_mentions"]:
        return Verdict(False, f"a bank is mentioned only in passing ({bank_mentions} mention)")
    if community < rules["min_community_mentions"]:
        return Verdict(False, f"about a bank but not about serving a community "
                              f"({community} community-service terms, {rules['min_community_mentions']} needed)")
    return Verdict(True, f"{bank_mentions} bank mentions, {community} community-service terms")
