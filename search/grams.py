"""The bigram table: which documents of a segment hold each character bigram.

Candidates for an exact-fragment query are the documents holding all the fragment's
bigrams; they are then verified on the text held in memory. Only membership is needed (no
positions, no frequencies, no scores), so instead of a Whoosh field, whose pure-Python
posting pool spent three quarters of the indexing time on these ~1,200 distinct bigrams
per case, each Whoosh segment gets a table beside it, computed with numpy in a fraction
of that time and memory-mapped by every reader:

    grams-<segment id>.vocab.npy    sorted bigram codes (first code point << 32 | second)
    grams-<segment id>.offsets.npy  where each bigram's documents start in docs (+ the end)
    grams-<segment id>.docs.npy     the segment's local document numbers, ascending per bigram

A segment never changes once written (Whoosh writes new segments instead), so neither does
its table; tables travel with the hard-linked generation copies, and a table whose segment
was merged away is removed. The bigrams are those of `search.analysis.grams` and
`query_grams`: pairs of adjacent word characters of the normalized text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.analysis import WORD_RE

PREFIX = "grams-"
PARTS = ("vocab", "offsets", "docs")
_WORD_TABLE: np.ndarray | None = None


def _word_table() -> np.ndarray:
    """Whether each code point of the Basic Multilingual Plane is a word character (\\w)."""
    global _WORD_TABLE
    if _WORD_TABLE is None:
        _WORD_TABLE = np.array([bool(WORD_RE.match(chr(i))) for i in range(0x10000)], dtype=bool)
    return _WORD_TABLE


def _is_word(codes: np.ndarray) -> np.ndarray:
    table = _word_table()
    out = table[np.minimum(codes, 0xFFFF)]
    astral = codes > 0xFFFF
    if astral.any():
        for code in np.unique(codes[astral]):
            out[codes == code] = bool(WORD_RE.match(chr(int(code))))
    return out


def gram_code(gram: str) -> int:
    return (ord(gram[0]) << 32) | ord(gram[1])


def doc_gram_codes(text: str) -> np.ndarray:
    """The distinct bigram codes of one normalized text, sorted."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if len(codes) < 2:
        return np.empty(0, dtype=np.uint64)
    word = _is_word(codes)
    keep = word[:-1] & word[1:]
    wide = codes.astype(np.uint64)
    return np.unique(((wide[:-1] << np.uint64(32)) | wide[1:])[keep])


@dataclass
class GramTable:
    vocab: np.ndarray     # uint64, sorted
    offsets: np.ndarray   # int64, len(vocab) + 1
    docs: np.ndarray      # int32

    @classmethod
    def build(cls, texts: Iterable[tuple[int, str]]) -> GramTable:
        """From (local docnum, normalized text) pairs."""
        per_doc: list[np.ndarray] = []
        numbers: list[int] = []
        for docnum, text in texts:
            per_doc.append(doc_gram_codes(text))
            numbers.append(docnum)
        if not per_doc:
            return cls(np.empty(0, np.uint64), np.zeros(1, np.int64), np.empty(0, np.int32))
        lengths = np.fromiter((len(g) for g in per_doc), dtype=np.int64, count=len(per_doc))
        codes = np.concatenate(per_doc)
        del per_doc
        # Memory matters at 10,000 cases (~12 million pairs): bigram codes become int32 ids
        # into the vocabulary before the sort, and the offsets come from counts.
        vocab = np.unique(codes)
        ids = np.searchsorted(vocab, codes).astype(np.int32)
        del codes
        order = np.argsort(ids, kind="stable")     # stable: documents stay ascending per bigram
        docs = np.repeat(np.asarray(numbers, dtype=np.int32), lengths)[order]
        del order
        offsets = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(ids, minlength=len(vocab)), out=offsets[1:])
        return cls(vocab, offsets, docs)

    def lookup(self, gram: str) -> np.ndarray:
        """The local document numbers holding `gram` (empty when none)."""
        code = gram_code(gram)
        i = int(np.searchsorted(self.vocab, code))
        if i < len(self.vocab) and int(self.vocab[i]) == code:
            return self.docs[self.offsets[i]:self.offsets[i + 1]]
        return self.docs[:0]

    def save(self, folder: Path, segment_id: str) -> None:
        """Each part written aside and renamed, so a reader never maps a half-written file."""
        for part in PARTS:
            target = table_path(folder, segment_id, part)
            tmp = target.with_name(target.name + ".tmp")
            with open(tmp, "wb") as handle:
                np.save(handle, getattr(self, part))
            os.replace(tmp, target)

    @classmethod
    def load(cls, folder: Path, segment_id: str) -> GramTable:
        parts = [np.load(table_path(folder, segment_id, part), mmap_mode="r") for part in PARTS]
        return cls(*parts)


def table_path(folder: Path, segment_id: str, part: str) -> Path:
    return Path(folder) / f"{PREFIX}{segment_id}.{part}.npy"


def has_table(folder: Path, segment_id: str) -> bool:
    return all(table_path(folder, segment_id, part).exists() for part in PARTS)


_TABLE_RE = re.compile(rf"^{PREFIX}(.+)\.(?:{'|'.join(PARTS)})\.npy$")


def remove_stale_tables(folder: Path, live_segments: set[str]) -> None:
    """Drop the tables of segments a merge has replaced."""
    for path in Path(folder).iterdir():
        match = _TABLE_RE.match(path.name)
        if match and match.group(1) not in live_segments:
            path.unlink(missing_ok=True)
