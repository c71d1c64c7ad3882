"""Stage 4, present: what a reader sees of the matched cases — result rows with highlighted
titles and snippets, facet counts, "did you mean" suggestions, and exports.

Every URL emitted passes `casebook.safety.safe_url`; every CSV cell passes `csv_cell`; every
step checks the request's deadline.
"""

from __future__ import annotations

import csv
import difflib
import html
import io
import json
import re
from typing import TYPE_CHECKING

import numpy as np

from casebook.model import plain_text
from casebook.safety import csv_cell, safe_url, strip_invisible
from search.analysis import normalize
from search.fields import FACET_FIELDS, FILTERS
from search.matching import Deadline, conjuncts, facet_field
from search.querylang import And, Text

if TYPE_CHECKING:   # only the Whoosh engine's functions below take them; the rest is backend-neutral
    from search.evaluate import Evaluator
    from search.snapshot import Snapshot

FACET_VALUES = 50   # the most frequent values of each facet (all years); the page shows 12
SNIPPET_CHARS = 120
SUGGESTIONS = 5
CLOSE_MATCH_MAX_CHARS = 30   # difflib's cost grows with the term: longer terms get fragments only
URL_FIELDS = ("url", "via", "source_url")
EXPORT_COLUMNS = ["slug", "title", "date", "category", "tags", "banks", "programs", "province", "city",
                  "district", "source", "via", "url", "path", "summary"]


def result_row(snap: Snapshot, docnum: int, patterns: list[re.Pattern[str]], score: float) -> dict:
    record = snap.records[docnum]
    body_start = len(record["title"]) + 1     # where the body begins in searchable_text
    return {
        "slug": record["slug"], "path": record["path"], "url": safe_url(record["url"]), "title": record["title"],
        "date": record["date"], "category": record["category"], "banks": record["banks"],
        "province": record["province"], "city": record["city"], "district": record["district"],
        "tags": record["tags"], "programs": record["programs"], "source": record["source"],
        "score": round(score, 4),
        "snippet": snippet(record["text"], patterns, record.get("summary") or "",
                           normalized=snap.texts[docnum], offset=body_start),
        "title_html": highlight(record["title"], patterns),
    }


def facets(snap: Snapshot, evaluator: Evaluator, root: object | None, matched: frozenset[int],
           docs: np.ndarray | None = None) -> dict[str, list[dict]]:
    """Counts per value of each facet. A facet's counts ignore the top-level clauses that
    filter on that same facet (an API filter, or `bank:x` ANDed with the rest of the query),
    so a reader sees how many cases each other value would give; clauses nested under OR or
    NOT are part of the query and always count. `docs`, when given, is `doc_array(matched)`."""
    clauses = conjuncts(root)
    out: dict[str, list[dict]] = {}
    masks: dict[int, np.ndarray] = {}   # by id: the bases are alive (memoized) throughout
    if docs is not None:
        masks[id(matched)] = snap.mask(matched, docs)
    for name in FACET_FIELDS:
        evaluator.deadline.check()
        kept = tuple(c for c in clauses if facet_field(c) != name)
        if len(kept) == len(clauses):
            base = matched
        else:
            base = evaluator.evaluate(kept[0] if len(kept) == 1 else And(kept) if kept else None)
        mask = masks.get(id(base))
        if mask is None:
            mask = masks[id(base)] = snap.mask(base)
        # Years newest first, all of them; other facets the most frequent first.
        year = name == "year"
        ordered = snap.facet_tables[name].ranked(mask, by_value=year, limit=None if year else FACET_VALUES)
        out[name] = [{"value": v, "count": c} for v, c in ordered]
    return out


def suggestions(snap: Snapshot, leaves: list[Text], deadline: Deadline) -> list[str]:
    """Values of the site's lists close to a term, and the longest fragments of a term that
    do occur (网点进小区 -> 网点). Bounded by the request's deadline: when it passes, the
    suggestions found so far are given (they are a courtesy, not the answer)."""
    vocabulary = sorted({value for field in FILTERS if field.match == "contains"
                         for value in snap.postings.get(field.name, {})})
    out: list[str] = []
    for leaf in leaves:
        if deadline.expired():
            break
        if len(leaf.value) <= CLOSE_MATCH_MAX_CHARS:
            out.extend(c for c in difflib.get_close_matches(leaf.value, vocabulary, n=3, cutoff=0.5) if c not in out)
        out.extend(f for f in longest_fragments(snap, normalize(leaf.value), deadline) if f not in out)
    return out[:SUGGESTIONS]


def longest_fragments(snap: Snapshot, value: str, deadline: Deadline, keep: int = 2) -> list[str]:
    """The longest proper fragments of `value` (two characters or more, within runs of word
    characters) that occur in some case, at most `keep` of them. Candidates come from the
    bigram tables (the documents holding all a fragment's bigrams), so a fragment is checked
    against the text only where it can occur; a term of 200 rare characters costs a few
    hundred set intersections, not a scan of every case per fragment."""
    best: list[str] = []
    best_size = 1
    for run_start, run in ((m.start(), m.group()) for m in re.finditer(r"[^\W_]+", value)):
        del run_start
        gram_docs = [snap.gram_docs(run[i:i + 2]) for i in range(len(run) - 1)]
        for start in range(len(run) - 1):
            if deadline.expired():
                return best[:keep]
            candidates = gram_docs[start]
            widths: list[tuple[int, frozenset[int]]] = []
            end = start + 2              # run[start:end] has the bigrams start .. end-2
            while candidates and end <= len(run):
                widths.append((end, candidates))
                if end - 1 < len(gram_docs):
                    candidates = candidates & gram_docs[end - 1]
                end += 1
            for end, docs in reversed(widths):
                size = end - start
                if size < best_size or size >= len(value):
                    continue
                fragment = run[start:end]
                if size == 2 or any(fragment in snap.texts[d] for d in docs):
                    if size > best_size:
                        best, best_size = [], size
                    if fragment not in best:
                        best.append(fragment)
                    break
    return best[:keep]


def export_rows(snap: Snapshot, ordered: list[int], deadline: Deadline) -> list[dict]:
    rows = []
    for number, docnum in enumerate(ordered):
        if number % 256 == 0:
            deadline.check()
        record = {k: v for k, v in snap.records[docnum].items() if k != "text"}
        for name in URL_FIELDS:
            if name in record:
                record[name] = safe_url(record[name]) or ""
        rows.append(record)
    return rows


def export_body(rows: list[dict], fmt: str) -> tuple[str, str]:
    """(body, media type) of the rows as JSON or as CSV with neutralised cells."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1), "application/json; charset=utf-8"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: csv_cell(";".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()})
    # A BOM, so that spreadsheet programs open the Chinese text as UTF-8.
    return "\ufeff" + buffer.getvalue(), "text/csv; charset=utf-8"


def highlight(text: str, patterns: list[re.Pattern[str]]) -> str:
    """HTML-escaped text with <mark> around every match of the query's terms."""
    if not patterns:
        return html.escape(text)
    norm = normalize(text)
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        spans.extend(m.span() for m in pattern.finditer(norm) if m.end() > m.start())
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, position = [], 0
    for start, end in merged:
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def as_text(markup: str) -> str:
    """A summary (Markdown, possibly with HTML tags and entities) as the text a reader sees:
    escaping it as it stands would show `&lt;p&gt;` in the snippet."""
    return strip_invisible(html.unescape(plain_text(markup)))


def snippet(text: str, patterns: list[re.Pattern[str]], fallback: str = "", *, normalized: str | None = None,
            offset: int = 0) -> str:
    """A window of the text around the first match, highlighted; the summary (as text) when
    none. `normalized[offset:]`, when given, is `text` already normalized (the engine holds
    it), so the first match is found without folding the whole text again."""
    if normalized is None:
        normalized, offset = normalize(text), 0
    first = min((m.start() - offset for p in patterns if (m := p.search(normalized, offset))), default=None)
    if first is None:
        source = as_text(fallback) if fallback.strip() else text
        base = re.sub(r"\s+", " ", source[:SNIPPET_CHARS * 2]).strip()
        cut = len(base) > SNIPPET_CHARS or len(source) > SNIPPET_CHARS * 2
        return html.escape(base[:SNIPPET_CHARS] + ("…" if cut else ""))
    start = max(0, first - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    window = re.sub(r"\s+", " ", text[start:end])
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return html.escape(prefix) + highlight(window, patterns) + html.escape(suffix)
