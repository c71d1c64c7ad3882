"""Reposts of one story become one case: MinHash over character shingles of the
normalized text (datasketch), confirmed by the exact Jaccard similarity.

Text is normalized first (punctuation, spaces and Latin case folded; full-width
forms to half-width) so that a repost that changed punctuation or spacing still
matches, while two different stories about the same bank share too few 5-character
shingles to be merged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

SHINGLE = 5
NUM_PERM = 128
THRESHOLD = 0.7


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"!\[[^\[\]]*\]\([^()]*\)", "", text)   # stops at the next bracket: linear on runs of "!["
    return re.sub(r"[\W_]+", "", text)


def shingles(text: str) -> set[str]:
    norm = normalize(text)
    return {norm[i:i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}


def minhash(items: set[str]) -> MinHash:
    mh = MinHash(num_perm=NUM_PERM)
    for item in items:
        mh.update(item.encode("utf-8"))
    return mh


@dataclass
class RepostIndex:
    """Finds an earlier case whose text is the same story."""

    threshold: float = THRESHOLD
    lsh: MinHashLSH = field(init=False)
    sets: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lsh = MinHashLSH(threshold=self.threshold * 0.8, num_perm=NUM_PERM)

    def add(self, key: str, text: str) -> None:
        if key in self.sets:
            return
        items = shingles(text)
        self.sets[key] = items
        self.lsh.insert(key, minhash(items))

    def find(self, text: str, *, exclude: str | None = None) -> tuple[str, float] | None:
        items = shingles(text)
        best: tuple[str, float] | None = None
        for key in self.lsh.query(minhash(items)):
            if key == exclude:
                continue
            other = self.sets[key]
            similarity = len(items & other) / max(1, len(items | other))
            # A repost may trim the lead or the footer: containment counts too.
            containment = len(items & other) / max(1, min(len(items), len(other)))
            score = max(similarity, containment if min(len(items), len(other)) > 50 else 0)
            if score >= self.threshold and (best is None or score > best[1]):
                best = (key, score)
        return best
