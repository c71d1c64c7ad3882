"""Ingest: extraction plus the relevance gate, repost merging and the store.

Every story found gets one report row; a bad input gets a `failed` row with its reason
and the batch goes on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from casebook.settings import Settings
from scraper.data import load_data
from scraper.pipeline import extract_input
from scraper.sources import expand_inputs
from scraper.store import CaseStore

STATUSES = ("written", "unchanged", "kept-edited", "duplicate", "irrelevant", "failed")


@dataclass
class ReportRow:
    input: str
    status: str
    output: str | None
    title: str | None
    reason: str
    date_evidence: str = ""   # where the case's date came from (scraper/dates.py): "dateline: span.h-time"


def ingest(inputs: Iterable[str], settings: Settings, *, out_dir: Path | None = None,
           on_row: Callable[[ReportRow], None] | None = None, fetcher: object | None = None) -> list[ReportRow]:
    data = load_data(settings.data_dir)
    store = CaseStore(out_dir or settings.cases_dir)
    queue = expand_inputs(list(inputs))
    seen: set[str] = set()
    hints: dict[str, object] = {}   # link -> what the feed that listed it said (feeds.FeedHint)
    rows: list[ReportRow] = []

    def emit(row: ReportRow) -> None:
        rows.append(row)
        if on_row:
            on_row(row)

    while queue:
        item = queue.pop(0)
        if item in seen:
            continue
        seen.add(item)
        extraction = extract_input(item, settings, data, fetcher, hint=hints.get(item))
        if extraction.error:
            emit(ReportRow(item, "failed", None, None, str(extraction.error)))
            continue
        queue.extend(link for link in extraction.links if link not in seen)
        hints.update(extraction.hints)
        for case in extraction.cases:
            if not case.relevant:
                emit(ReportRow(item, "irrelevant", None, case.title, case.reason, case.date_evidence))
                continue
            outcome = store.save(case)
            emit(ReportRow(item, outcome.status, str(outcome.path) if outcome.path else None, case.title,
                           outcome.reason, case.date_evidence))
    return rows


def summarize(rows: list[ReportRow]) -> Counter[str]:
    counts = Counter({status: 0 for status in STATUSES})
    counts.update(row.status for row in rows)
    return counts


def write_report(rows: list[ReportRow], path: Path) -> None:
    from casebook.files import atomic_write

    atomic_write(path, "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows))
