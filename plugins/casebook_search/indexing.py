"""Build the search index from the cases Pelican read (never from the output HTML).

When the articles generator starts, a forked index process starts too. Each published case
goes to it as soon as Pelican has read it, so a fresh index is analysed on the second core
while the first one is still reading (and then rendering). Once the articles are final, a
generator returned through `get_generators` tells the index process which cases to serve
(`context["articles"]`: drafts, hidden and broken cases are not indexed); the output phase
ends by waiting for the new index generation to be swapped in.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import queue
import threading
import time
from pathlib import Path

import lxml.html
from pelican import signals

from casebook.app.session import session_of
from casebook.errors import SearchError
from search.schema import IndexDoc

INDEX_NICENESS = 10   # the index yields the CPU to rendering, the build's critical path
# Below this many case files the index process analyses alone: the build's own process keeps
# one core busy, and Whoosh's extra analysing processes would cost more CPU than they save.
# Above it the index would outlast the build on one core, so it takes one process per core.
ONE_WRITER_BELOW = 3000

log = logging.getLogger(__name__)


def article_text(html: str) -> str:
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for node in root.iter("p", "h1", "h2", "h3", "h4", "li", "tr", "br"):
        node.tail = ("\n" + node.tail) if node.tail else "\n"
    return "\n".join(line.strip() for line in root.text_content().split("\n") if line.strip())


def case_fields(article, content_root: str) -> dict:  # type: ignore[no-untyped-def]
    """What the index process needs of an article: cheap to take here, the HTML still raw."""
    meta = article.metadata
    source, root = article.source_path, content_root.rstrip(os.sep) + os.sep
    return {
        "slug": article.slug, "path": source[len(root):] if source.startswith(root) else os.path.relpath(source, root),
        "url": "/" + article.url,
        "title": article.title, "date": meta.get("date_iso", article.date.isoformat()),
        "category": article.category.name if getattr(article, "category", None) else "",
        "tags": [t.name for t in getattr(article, "tags", [])], "banks": list(meta.get("banks") or []),
        "programs": list(meta.get("programs") or []), "province": meta.get("province") or "",
        "city": meta.get("city") or "", "district": meta.get("district") or "", "source": meta.get("source") or "",
        "via": meta.get("via") or "", "summary": meta.get("summary") or "", "html": article._content,
    }


def index_doc(fields: dict) -> IndexDoc:
    fields = dict(fields)
    text = article_text(fields.pop("html"))
    return IndexDoc(**fields, text=text)


def _leave_if_orphaned_while_starting(parent: int, starting: threading.Event) -> None:
    """Loading the segmenter takes seconds on a busy machine, and the loop below notices a
    killed build only once it runs: until then, this thread ends the process when the build
    is gone (nothing is written before the builder exists)."""
    while starting.is_set():
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.2)


def _index_in_child(cases: multiprocessing.Queue, stop, index_dir: str, procs: int, conn,  # type: ignore[no-untyped-def,type-arg]
                    parent: int) -> None:
    """The index process: add each case as it comes; on ("end", slugs) commit and report.
    After an error it still drains the queue to the end, so the build never blocks on it."""
    gc.freeze()   # the heap inherited from Pelican is never freed here: out of the collector's sight
    os.nice(INDEX_NICENESS)
    # `parent` is the build's pid, taken before the fork: read here, os.getppid() would already
    # be 1 when the build was killed between the fork and this line, and the wait below
    # would never notice.
    builder, failure = None, ""
    starting = threading.Event()
    starting.set()
    threading.Thread(target=_leave_if_orphaned_while_starting, args=(parent, starting), daemon=True).start()
    try:
        from search.indexer import IndexBuilder  # the segmenter and Whoosh load here, off the build's path

        builder = IndexBuilder(Path(index_dir), procs=procs)
    except BaseException as exc:
        failure = f"{exc.__class__.__name__}: {exc}"
    starting.clear()
    while True:
        try:
            kind, payload = cases.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:   # the build was killed: leave nothing half-built behind
                kind, payload = "abort", None
            else:
                continue
        if stop.is_set():
            kind = "abort"
        if kind == "case" and not failure:
            try:
                builder.add(index_doc(payload))  # type: ignore[union-attr]
            except BaseException as exc:
                failure = f"{exc.__class__.__name__}: {exc}"
                builder.cancel()  # type: ignore[union-attr]
        elif kind == "end":
            break
        elif kind == "abort":
            if builder is not None:
                builder.cancel()
            conn.close()
            return
    if failure:
        conn.send(("error", failure))
    else:
        try:
            conn.send(("ok", builder.finish(keep=set(payload))))  # type: ignore[union-attr]
        except BaseException as exc:
            builder.cancel()  # type: ignore[union-attr]
            conn.send(("error", f"{exc.__class__.__name__}: {exc}"))
    conn.close()


class IndexStream:
    """The index process of one build, and the cases sent to it so far."""

    def __init__(self, index_dir: str, content_root: str, expected: int = 0) -> None:
        self.content_root = content_root
        procs = 1 if expected < ONE_WRITER_BELOW else 0   # 0: one per core
        context = multiprocessing.get_context("fork")
        self.cases = context.Queue()   # a feeder thread writes to the pipe: sending never blocks the build
        self.stop = context.Event()   # an aborted build: the cases still queued are not indexed
        parent, child = context.Pipe(duplex=False)
        self.process = context.Process(target=_index_in_child, args=(self.cases, self.stop, index_dir, procs, child, os.getpid()),
                                       daemon=False)
        self.process.start()
        child.close()
        self.conn = parent
        self.read: list = []          # articles built since the last flush; their status is final later
        self.sent: set[str] = set()   # source paths of the cases sent
        self.slugs: set[str] = set()  # their slugs: a second case with one of them is not sent
        self.ended = False

    def flush(self) -> None:
        """Send the articles read so far that are published. Checked one file later, because
        Pelican can still turn an article into a draft after it is built (a future date)."""
        read, self.read = self.read, []
        for article in read:
            if article.status == "published" and article.source_path not in self.sent:
                self._send(article)

    def end(self, articles: list) -> None:  # type: ignore[type-arg]
        self.flush()
        for article in articles:
            if article.source_path not in self.sent:   # e.g. served from a generator-level cache
                self._send(article)
        self.cases.put(("end", [article.slug for article in articles]))
        self.ended = True

    def result(self):  # type: ignore[no-untyped-def]
        try:
            status, payload = self.conn.recv()
        except EOFError:
            status, payload = "error", "the indexing process died"
        self._close()
        return status, payload

    def abort(self) -> None:
        if not self.ended:
            self.stop.set()
            self.cases.put(("abort", None))
            self.ended = True
        self._close()

    def _send(self, article) -> None:  # type: ignore[no-untyped-def]
        if article.slug in self.slugs:
            # Files are read in path order and the site keeps the first case of a slug
            # (plugins/casebook_site/guard.py): the one already sent. The other is skipped.
            return
        self.cases.put(("case", case_fields(article, self.content_root)))
        self.sent.add(article.source_path)
        self.slugs.add(article.slug)

    def _close(self) -> None:
        self.process.join()
        self.conn.close()
        self.cases.close()
        self.cases.join_thread()


def start_stream(generator) -> None:  # type: ignore[no-untyped-def]
    session = session_of(generator.settings)
    session.end_indexing()
    if session.index is not None:
        session.index_job = IndexStream(str(session.index), generator.path, _case_files(generator))


def _case_files(generator) -> int:  # type: ignore[no-untyped-def]
    """How many files the articles generator is about to read (an upper bound of the cases)."""
    readers = getattr(generator, "readers", None)
    extensions = tuple(f".{ext}" for ext in (readers.extensions if readers else ["md"]))
    total = 0
    for folder in generator.settings.get("ARTICLE_PATHS", [""]):
        for _root, _dirs, files in os.walk(os.path.join(generator.path, folder)):
            total += sum(name.endswith(extensions) for name in files)
    return total


def article_built(content) -> None:  # type: ignore[no-untyped-def]
    from pelican.contents import Article

    stream = session_of(content.settings).index_job
    if stream is not None and isinstance(content, Article):
        stream.read.append(content)


def next_file(generator) -> None:  # type: ignore[no-untyped-def]
    stream = session_of(generator.settings).index_job
    if stream is not None:
        stream.flush()


class SearchIndexGenerator:
    """Ends the index stream with the final list of published cases once the articles are
    read, and waits for the index at the end of the output phase. The index swap itself is
    atomic (search/indexer.py)."""

    def __init__(self, context, settings, path, theme, output_path, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.context = context
        self.settings = settings
        self.path = path
        self.stream: IndexStream | None = None

    def generate_context(self) -> None:
        session = session_of(self.settings)
        if session.index is None:
            log.warning("CASEBOOK_INDEX_DIR is not set: no search index built")
            return
        if session.index_job is None:
            start_stream(self)   # no articles generator ran: an index of no cases
        self.stream = session.index_job
        self.stream.end(list(self.context.get("articles", [])))

    def generate_output(self, writer) -> None:  # type: ignore[no-untyped-def]
        if self.stream is None:
            return
        status, payload = self.stream.result()
        session = session_of(self.settings)
        session.index_job = None
        if status != "ok":
            raise SearchError(f"the search index was not built: {payload}",
                              source=self.settings.get("CASEBOOK_INDEX_DIR"),
                              hint="the previous index is still serving; fix the cause and build again")
        session.index_report = payload
        log.info("search index %s: %d added, %d updated, %d removed, %d unchanged", payload.generation,
                 payload.added, payload.updated, payload.removed, payload.unchanged)


def get_generators(pelican) -> type:  # type: ignore[no-untyped-def]
    return SearchIndexGenerator


def register() -> None:
    signals.article_generator_init.connect(start_stream)
    signals.content_object_init.connect(article_built)
    signals.article_generator_preread.connect(next_file)
    signals.get_generators.connect(get_generators)
