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
from scraper.sources import expand_inputs, is_url
from scraper.store import CaseStore

STATUSES = ("written", "unchanged", "kept-edited", "duplicate", "irrelevant", "failed")


@dataclass
class ReportRow:
    input: str
    status: str
    output: str | None
    title: str | None
    reason: str


def ingest(inputs: Iterable[str], settings: Settings, *, out_dir: Path | None = None,
           on_row: Callable[[ReportRow], None] | None = None, fetcher: object | None = None) -> list[ReportRow]:
    data = load_data(settings.data_dir)
    store = CaseStore(out_dir or settings.cases_dir)
    # (input, how many feeds led to it): a feed nested deeper than max_feed_depth is not expanded.
    queue = [(item, 0) for item in expand_inputs(list(inputs))]
    seen: set[str] = set()
    rows: list[ReportRow] = []
    feed_links = 0
    own_fetcher = None

    def emit(row: ReportRow) -> None:
        rows.append(row)
        if on_row:
            on_row(row)

    try:
        while queue:
            item, depth = queue.pop(0)
            if item in seen:
                continue
            seen.add(item)
            if fetcher is None and is_url(item):
                # One fetcher for the whole batch: robots.txt is read once per site and the
                # interval between requests to one host holds across inputs.
                from scraper.fetch import Fetcher

                fetcher = own_fetcher = Fetcher(settings)
            extraction = extract_input(item, settings, data, fetcher)
            if extraction.error:
                emit(ReportRow(item, "failed", None, None, str(extraction.error)))
                continue
            if extraction.links:
                room = settings.max_feed_links - feed_links
                if depth >= settings.max_feed_depth or room <= 0:
                    why = (f"a feed nested {depth} deep; at most {settings.max_feed_depth} levels are followed"
                           if depth >= settings.max_feed_depth else
                           f"the batch already followed {settings.max_feed_links} feed links")
                    emit(ReportRow(item, "failed", None, None, f"{item}: {why} (raise CASEBOOK_MAX_FEED_DEPTH "
                                   "or CASEBOOK_MAX_FEED_LINKS, or ingest the links directly)"))
                    continue
                fresh = [link for link in extraction.links if link not in seen][:room]
                feed_links += len(fresh)
                queue.extend((link, depth + 1) for link in fresh)
            for case in extraction.cases:
                if not case.relevant:
                    emit(ReportRow(item, "irrelevant", None, case.title, case.reason))
                    continue
                outcome = store.save(case)
                emit(ReportRow(item, outcome.status, str(outcome.path) if outcome.path else None, case.title,
                               outcome.reason))
    finally:
        if own_fetcher is not None:
            own_fetcher.close()
    return rows


def summarize(rows: list[ReportRow]) -> Counter[str]:
    counts = Counter({status: 0 for status in STATUSES})
    counts.update(row.status for row in rows)
    return counts


def write_report(rows: list[ReportRow], path: Path) -> None:
    from casebook.files import atomic_write

    atomic_write(path, "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in rows))
