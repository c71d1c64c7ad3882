"""Whoosh's view of the segmenter: the analyzer of the index's word fields (search/schema.py).

Apart from search/analysis.py so that normalizing and segmenting text (what queries and
every backend need) does not import Whoosh.
"""

from __future__ import annotations

from collections.abc import Iterator

from whoosh.analysis import Token, Tokenizer

from search.analysis import ensure_dictionary, normalize, words


class WordTokenizer(Tokenizer):
    """Segmented words with word-ordinal positions, so that phrase queries work on words."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False, keeporiginal: bool = False,
                 removestops: bool = True, start_pos: int = 0, start_char: int = 0, tokenize: bool = True,
                 mode: str = "", **kwargs: object) -> Iterator[Token]:
        ensure_dictionary()
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        text = normalize(value)
        # tokenize=False (Whoosh's term normalization) asks for the whole value as one token.
        spans = words(text) if tokenize else [(text, 0, len(text))]
        for ordinal, (word, start, end) in enumerate(spans):
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
