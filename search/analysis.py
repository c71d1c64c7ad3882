"""Chinese text analysis for the index and for queries.

- `normalize`: full-width to half-width (NFKC), lower case, Traditional to Simplified
  (OpenCC t2s), character by character, so that offsets in the normalized text are
  offsets in the original (snippets and highlights rely on it);
- `WordTokenizer`: jieba-compatible segmentation (rjieba, the jieba-rs binding) with a
  user dictionary built from the data files; positions are word ordinals, so phrase
  queries work on words;
- `grams` / `query_grams`: every character bigram, so that any fragment of two or
  more characters can be found even where segmentation cut it differently
  (适老化 inside 等适老化设计 is segmented 等/适/老化/设计); the bigram tables of
  `search.grams` hold them.
"""

from __future__ import annotations

import re
import unicodedata

import opencc
import rjieba
from whoosh.analysis import Token, Tokenizer

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


def load_user_dictionary(words: list[str]) -> None:
    """Teach the segmenter the domain's words: bank names, programmes, taxonomy, places."""
    for word in words:
        word = normalize(word.strip())
        if len(word) >= 2 and word not in _dictionary_loaded:
            rjieba.add_word(word, None, None)
            _dictionary_loaded.add(word)


def words(text: str) -> list[tuple[str, int, int]]:
    """(word, start, end) of every word of the normalized text, punctuation and spaces dropped."""
    return [(w, s, e) for w, s, e in rjieba.tokenize(text) if not PUNCT_OR_SPACE_RE.match(w)]


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


class WordTokenizer(Tokenizer):
    """Segmented words with word-ordinal positions."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: object):  # type: ignore[override]
        ensure_dictionary()
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        text = normalize(value)
        for ordinal, (word, start, end) in enumerate(words(text)):
            token.text = word
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = start_pos + ordinal
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def word_analyzer() -> WordTokenizer:
    return WordTokenizer()


def domain_words() -> list[str]:
    """The user dictionary: banks and aliases, programmes, taxonomy names and keywords, places."""
    from casebook.data import load_data
    from casebook.settings import load
    from scraper.entities import bank_index

    data = load_data(load().data_dir)   # CASEBOOK_DATA_DIR: the dictionary is process-wide
    vocabulary = list(bank_index(data).canonical) + list(data.programs.get("known", []))
    vocabulary += data.category_names + data.tag_names
    for category in data.taxonomy["categories"]:
        vocabulary += list(category["keywords"])
    for tag in data.taxonomy["tags"]:
        vocabulary += tag["keywords"]
    for region in data.gazetteer.regions.values():
        vocabulary += [region.name, region.short]
    return sorted(set(w for w in vocabulary if 2 <= len(w) <= 16))


def ensure_dictionary() -> None:
    if not _dictionary_loaded:
        load_user_dictionary(domain_words())
