"""Chinese text analysis for the index and for queries.

- `normalize`: full-width to half-width (NFKC), lower case, Traditional to Simplified
  (OpenCC t2s), character by character, so that offsets in the normalized text are
  offsets in the original (snippets and highlights rely on it);
- `words`: jieba-compatible segmentation (rjieba, the jieba-rs binding) with a user
  dictionary built from the data files (Whoosh's tokenizer over it: search/tokenizer.py);
- `grams` / `query_grams`: every character bigram, so that any fragment of two or
  more characters can be found even where segmentation cut it differently
  (适老化 inside 等适老化设计 is segmented 等/适/老化/设计); the bigram tables of
  `search.grams` hold them.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from pathlib import Path
from types import ModuleType

import opencc

_T2S = opencc.OpenCC("t2s")
WORD_RE = re.compile(r"[\w]", re.UNICODE)
PUNCT_OR_SPACE_RE = re.compile(r"^[\W_]+$", re.UNICODE)


def _fold_char(ch: str) -> str:
    """One character folded: NFKC (full-width to half-width), lower case, Traditional to
    Simplified; the character itself whenever a step would change the length."""
    folded = unicodedata.normalize("NFKC", ch)
    if len(folded) != 1:
        folded = ch
    lowered = folded.lower()
    folded = lowered if len(lowered) == 1 else folded
    simplified = _T2S.convert(folded)
    return simplified if len(simplified) == 1 else folded


class _FoldTable(dict):
    """A str.translate table filled on first sight of each character, so folding a text is
    one C-level pass after warm-up."""

    def __missing__(self, codepoint: int) -> str:
        folded = _fold_char(chr(codepoint))
        self[codepoint] = folded
        return folded


_FOLD = _FoldTable()


def normalize(text: str) -> str:
    """Same length as `text`: position i of the result is character i of the input, folded."""
    return text.translate(_FOLD)


_dictionary_loaded: set[str] = set()
_dictionary_ready = threading.Event()   # set once the domain's words are all in
_dictionary_lock = threading.Lock()
_rjieba: ModuleType | None = None


def _segmenter() -> ModuleType:
    """rjieba, imported on first use: importing it loads jieba's dictionary (most of a second),
    which an index update with nothing to analyse, or another backend, never needs."""
    global _rjieba
    if _rjieba is None:
        import rjieba

        _rjieba = rjieba
    return _rjieba


def load_user_dictionary(words: list[str]) -> None:
    """Teach the segmenter the domain's words: bank names, programmes, taxonomy, places."""
    segmenter = _segmenter()
    for word in words:
        word = normalize(word.strip())
        if len(word) >= 2 and word not in _dictionary_loaded:
            segmenter.add_word(word, None, None)
            _dictionary_loaded.add(word)


def words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of every word of the normalized text, punctuation and spaces dropped."""
    return [(w, s, e) for w, s, e in _segmenter().tokenize(text) if not PUNCT_OR_SPACE_RE.match(w)]


def grams(text: str) -> list[tuple[str, int]]:
    """Character bigrams (start offset) of every run of word characters. A lone character
    between punctuation gets no gram: one-character queries are answered by a scan of the
    text held in memory, which is cheaper than indexing every unigram."""
    return [(text[i:i + 2], i) for i in range(len(text) - 1)
            if WORD_RE.match(text[i]) and WORD_RE.match(text[i + 1])]


def query_grams(fragment: str) -> list[str]:
    """The bigrams every text containing `fragment` must have (none for one character)."""
    out: list[str] = []
    for run in re.findall(r"\w+", normalize(fragment)):
        out.extend(run[i:i + 2] for i in range(len(run) - 1))
    return list(dict.fromkeys(out))


def domain_words(data_dir: Path | None = None) -> list[str]:
    """The user dictionary: banks and aliases, programmes, taxonomy names and keywords, places
    (from the data files in `data_dir`, scraper/data by default)."""
    from casebook.data import load_data
    from casebook.settings import load
    from scraper.entities import bank_index

    data = load_data(data_dir or load().data_dir)   # else CASEBOOK_DATA_DIR: the dictionary is process-wide
    vocabulary = list(bank_index(data).canonical) + list(data.programs.get("known", []))
    vocabulary += data.category_names + data.tag_names
    for category in data.taxonomy["categories"]:
        vocabulary += list(category["keywords"])
    for tag in data.taxonomy["tags"]:
        vocabulary += tag["keywords"]
    for region in data.gazetteer.regions.values():
        vocabulary += [region.name, region.short]
    return sorted(set(w for w in vocabulary if 2 <= len(w) <= 16))


def ensure_dictionary(data_dir: Path | None = None) -> None:
    """Teach the segmenter the domain's words once per process (the first caller's data).
    Thread-safe: the index process loads them in a thread while documents arrive, and a
    caller that needs them waits until they are all in, never segmenting with half of them."""
    if _dictionary_ready.is_set():
        return
    with _dictionary_lock:
        if not _dictionary_ready.is_set():
            load_user_dictionary(domain_words(data_dir))
            _dictionary_ready.set()


def __getattr__(name: str) -> object:
    """Indexes written before the tokenizer moved to search/tokenizer.py name it here in their
    pickled schema; Whoosh loads it from this module only when such an index is opened."""
    if name in ("WordTokenizer", "word_analyzer"):
        from search import tokenizer

        return getattr(tokenizer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
