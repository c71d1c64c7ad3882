"""Ingest: extraction plus the relevance gate, repost merging and the store.

Every story found gets one report row; a bad input gets a `failed` row with its reason
and the batch goes on. Local files are read by a pool of worker processes (one per core)
while the parent fetches URL inputs one after another with the batch's one fetcher and
stores what comes back; results are taken in input order, so the report and the files
written are the same as a sequential run's.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casebook.check import rules_of
from casebook.data import Data, load_data
from casebook.errors import ExtractionError, InputError
from casebook.model import Case, render
from casebook.settings import Settings
from scraper.pipeline import Extraction, extract_input
from scraper.sources import expand_inputs, is_url
from scraper.store import CaseStore

if TYPE_CHECKING:   # URL inputs only: a batch of files never imports the fetcher
    from scraper.feeds import FeedHint
    from scraper.fetch import Fetcher

STATUSES = ("written", "unchanged", "kept-edited", "duplicate", "rejected", "irrelevant", "failed")
AHEAD_PER_WORKER = 8     # files handed to each worker before the parent needs their results


@dataclass
class ReportRow:
    input: str
    status: str
    output: str | None
    title: str | None
    reason: str
    date_evidence: str = ""   # where the case's date came from (scraper/dates.py): "dateline: span.h-time"


@dataclass
class _WorkerState:
    settings: Settings
    data: Data


# Set in each worker process by `_init_worker` (a fork inherits the parent's loaded data).
_WORKER: list[_WorkerState] = []


def _init_worker(settings: Settings) -> None:
    _WORKER[:] = [_WorkerState(settings, load_data(settings.data_dir))]
    _exit_with_parent(os.getppid())


def _exit_with_parent(parent: int) -> None:
    """A worker whose ingest was killed (SIGKILL leaves the pool no chance to stop it) exits
    within a second instead of waiting for work forever."""
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _extract_in_worker(item: str) -> Extraction:
    (state,) = _WORKER
    extraction = extract_input(item, state.settings, state.data)
    for case in extraction.cases:
        if not case.relevant:
            case.body = ""   # ingest reports an irrelevant story by title and reason: no need to send its text back
    return extraction


def worker_count(settings: Settings, local_files: int) -> int:
    if local_files < 2:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    wanted = min(settings.ingest_workers or cores, local_files)
    return wanted if wanted > 1 else 0


def _warm(data: Data) -> None:
    """Compile the big name patterns once, before the workers fork, so none of them pays it."""
    from scraper import entities, segment

    entities.bank_index(data).alias_re  # noqa: B018 - a cached property, built on first access
    entities.region_index(data)
    segment.rules(data)


def _pool(settings: Settings, workers: int) -> ProcessPoolExecutor | None:
    """The batch's pool of readers; none for fewer than two workers (files are read here)."""
    return _new_pool(settings, workers) if workers >= 2 else None


def _new_pool(settings: Settings, workers: int) -> ProcessPoolExecutor:
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(settings,))


def _alone(item: str, settings: Settings) -> Extraction:
    """One input in a process of its own: its extraction, or the error that it killed it."""
    with _new_pool(settings, 1) as single:
        try:
            return single.submit(_extract_in_worker, item).result()
        except BrokenProcessPool:
            return Extraction(item, error=ExtractionError(
                "the process reading this input died (killed, out of memory or crashed); the batch went on",
                source=item, hint="try it alone with `casebook extract`, or split it"))


def extractions(inputs: list[str], settings: Settings, data: Data, fetcher: Fetcher | None = None,
                workers: int | None = None) -> Iterator[Extraction]:
    """Every input's extraction in input order (links found in feeds are appended, as they
    are found); local files run ahead in the pool, URLs in this process."""
    # (input, how many feeds led to it): a feed nested deeper than max_feed_depth is not expanded.
    queue = deque((item, 0) for item in expand_inputs(inputs))
    local = sum(1 for item, _ in queue if not is_url(item))
    feed_links = 0
    count = worker_count(settings, local) if workers is None else workers
    if count >= 2:
        _warm(data)
    pool = _pool(settings, count)
    seen: set[str] = set()
    hints: dict[str, FeedHint] = {}   # link -> what the feed that listed it said
    pending: deque[tuple[str, int, Future[Extraction] | None]] = deque()
    ahead = max(1, count) * AHEAD_PER_WORKER
    own_fetcher: Fetcher | None = None

    def batch_fetcher() -> Fetcher:
        """The batch's one fetcher (its politeness intervals and archive span every URL)."""
        nonlocal own_fetcher
        if fetcher is not None:
            return fetcher
        if own_fetcher is None:
            from scraper.fetch import Fetcher

            own_fetcher = Fetcher(settings)
        return own_fetcher

    try:
        while queue or pending:
            while queue and len(pending) < ahead:
                item, depth = queue.popleft()
                if item in seen:
                    continue
                seen.add(item)
                job = pool.submit(_extract_in_worker, item) if pool is not None and not is_url(item) else None
                pending.append((item, depth, job))
                if job is None:
                    break    # a URL (or every input, without a pool) is read here, when its turn comes
            if not pending:
                continue
            item, depth, future = pending.popleft()
            if future is not None:
                try:
                    extraction = future.result()
                except BrokenProcessPool:
                    # A worker died (killed, out of memory, a crash in a C library): every
                    # pending file is resubmitted to a fresh pool, and this one is read once
                    # more on its own, so only the input that kills a reader fails.
                    if pool is not None:   # always: the future came from it
                        pool.shutdown(cancel_futures=True)
                    extraction = _alone(item, settings)
                    fresh_pool = pool = _new_pool(settings, count)
                    pending = deque((name, level, fresh_pool.submit(_extract_in_worker, name) if job else None)
                                    for name, level, job in pending)
            else:
                extraction = extract_input(item, settings, data, batch_fetcher() if is_url(item) else None,
                                           hint=hints.get(item))
            hints.update(extraction.hints)
            if extraction.links:
                refused = _feed_cap(item, depth, settings, settings.max_feed_links - feed_links)
                if refused is not None:
                    if extraction.cases:   # the feed's own full-text stories are kept
                        yield Extraction(item, cases=extraction.cases)
                    yield Extraction(item, error=refused)
                    continue
                fresh = [link for link in extraction.links if link not in seen][:settings.max_feed_links - feed_links]
                feed_links += len(fresh)
                queue.extend((link, depth + 1) for link in fresh)
            yield extraction
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if own_fetcher is not None:
            own_fetcher.close()


def _feed_cap(item: str, depth: int, settings: Settings, room: int) -> InputError | None:
    """Why a feed's links are not followed, if they are not: feeds and sitemaps expand at most
    max_feed_links links per batch and nest at most max_feed_depth levels."""
    if depth >= settings.max_feed_depth:
        why = f"a feed nested {depth} deep; at most {settings.max_feed_depth} levels are followed"
    elif room <= 0:
        why = f"the batch already followed {settings.max_feed_links} feed links"
    else:
        return None
    return InputError(why, source=item,
                      hint="raise CASEBOOK_MAX_FEED_DEPTH or CASEBOOK_MAX_FEED_LINKS, or ingest the links directly")


def _over_case_limit(case: Case, limit: int) -> str | None:
    """Why the story cannot be a case file, when it is larger than `check` and the build read
    (a 10 MB one-line text dump was written, then refused by both)."""
    size = len(render(case).encode("utf-8"))
    if size <= limit:
        return None
    return (f"the story is {size:,} bytes as a case file; a case file holds at most {limit:,} "
            "(split the report into its stories, or save only the article)")


def ingest(inputs: Iterable[str], settings: Settings, *, out_dir: Path | None = None,
           on_row: Callable[[ReportRow], None] | None = None, fetcher: Fetcher | None = None,
           workers: int | None = None) -> list[ReportRow]:
    data = load_data(settings.data_dir)
    case_bytes = rules_of(data).max_file_bytes
    store = CaseStore(out_dir or settings.cases_dir, data.review.get("rejected_file"))
    rows: list[ReportRow] = []

    def emit(row: ReportRow) -> None:
        rows.append(row)
        if on_row:
            on_row(row)

    for extraction in extractions(list(inputs), settings, data, fetcher, workers):
        item = extraction.input
        if extraction.error:
            emit(ReportRow(item, "failed", None, None, str(extraction.error)))
            continue
        for case in extraction.cases:
            if not case.relevant:
                emit(ReportRow(item, "irrelevant", None, case.title, case.reason, case.date_evidence))
                continue
            if (too_large := _over_case_limit(case, case_bytes)) is not None:
                emit(ReportRow(item, "failed", None, case.title, f"{item}: {too_large}", case.date_evidence))
                continue
            try:
                outcome = store.save(case)
            except OSError as exc:   # disk full, permissions: this story fails, the batch goes on
                emit(ReportRow(item, "failed", None, case.title,
                               f"{item}: the case could not be written: {exc.strerror or exc} "
                               f"(check that {store.directory} is writable and has room)", case.date_evidence))
                continue
            # An accepted story's row quotes the evidence that made it a case.
            reason = "; ".join(part for part in (outcome.reason, case.reason) if part)
            emit(ReportRow(item, outcome.status, str(outcome.path) if outcome.path else None, case.title, reason,
                           case.date_evidence))
    return rows


def summarize(rows: list[ReportRow]) -> Counter[str]:
    counts = Counter({status: 0 for status in STATUSES})
    counts.update(row.status for row in rows)
    return counts


def report_line(row: ReportRow) -> str:
    return json.dumps(asdict(row), ensure_ascii=False) + "\n"


class ReportWriter:
    """The report written as the rows come (one JSON line each, flushed), to `<path>.partial`,
    renamed to `path` when the batch ends: a long run can be followed with `tail -f`, and a
    reader of `path` never sees half a report."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.partial.open("w", encoding="utf-8", newline="\n")

    def write(self, row: ReportRow) -> None:
        self._fh.write(report_line(row))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()
        os.replace(self.partial, self.path)

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

