"""One build of the site: what it was given, what it read and what it made.

`build_site` creates a `BuildSession`, hands it to Pelican under the settings key
`CASEBOOK_SESSION` (plugins and generators find it there, never in a module global), runs
Pelican, and returns the session. Everything one build learns lives here and dies with it:
the cases as read (`cases`), the files refused (`failed`) and the values left out
(`dropped`), the facets and related cases, the slug memo, the render record of the output
folder and the index report.

The caches a build keeps for the next one live in the output folder they describe,
under `OUTPUT/.casebook/` (a dot folder: no sitemap or feed lists it, nginx denies it), so
deleting the output folder always yields a full, correct build.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casebook.data import Data, load_data
from casebook.errors import CasebookError
from casebook.files import atomic_write
from casebook.model import FIELD_ORDER, Case
from casebook.settings import ROOT

if TYPE_CHECKING:
    from casebook.app.compress import BackgroundCompressor
    from plugins.casebook_render_cache import RenderRecord
    from search.schema import BuildReport
    from search.update import IndexJob

SESSION_KEY = "CASEBOOK_SESSION"     # the Pelican setting that carries the session
CACHE_FOLDER = ".casebook"           # inside the output folder
SLUG_MEMO = "slugs.json"
INDEX_RECORD = "index.json"          # what the index holds after this output's last build
INDEX_DOCS = "index-docs.json"       # the index documents of the cases, by case
# What makes a case's index document: when these change, every document is made again.
INDEX_DOC_SOURCES = ("search/schema.py", "search/mdtext.py", "casebook/model.py")


class SlugMemo:
    """Transliterations of names the shipped slug table does not have (a bank branch, a new
    programme), kept between builds in the session's cache folder. Keyed by the pypinyin
    version and Pelican's slug rules: either changing makes them all new."""

    def __init__(self, cache: Path | None) -> None:
        from importlib.metadata import version  # not `import pypinyin`: its dictionaries load slowly

        from pelican.settings import DEFAULT_CONFIG

        self.path = cache / SLUG_MEMO if cache else None
        self.version = f"{version('pypinyin')}:{json.dumps(DEFAULT_CONFIG['SLUG_REGEX_SUBSTITUTIONS'])}"
        kept = read_cache(self.path, self.version)
        self.slugs: dict[str, str] = kept if isinstance(kept, dict) else {}
        self.changed = False

    def save(self) -> None:
        if self.changed and self.path:
            write_cache(self.path, self.version, self.slugs)
            self.changed = False


def read_cache(path: Path | None, key: str) -> object | None:
    """What a build kept in `path` under `key`, or None (no cache, another key, or an
    unreadable file: then it is computed again)."""
    if path is None:
        return None
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        return stored["value"] if stored.get("key") == key else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_cache(path: Path | None, key: str, value: object) -> None:
    if path is not None:
        atomic_write(path, json.dumps({"key": key, "value": value}, ensure_ascii=False))


@dataclass(eq=False)
class BuildSession:
    """The state of one build (see the module's docstring)."""

    content: Path
    output: Path
    index: Path | None
    data: Data = field(repr=False)
    preview: bool = True
    strict: bool = False
    cache: Path | None = None            # OUTPUT/.casebook, or None: nothing kept between builds
    cases: dict[str, Case] = field(default_factory=dict, repr=False)   # source path -> the case as the reader parsed it
    failed: list[str] = field(default_factory=list)       # case files skipped, each with file:line and reason
    dropped: list[str] = field(default_factory=list)      # values left out of published cases (unsafe URLs)
    facets: dict[str, Any] = field(default_factory=dict, repr=False)  # the templates' `casebook`: banks, regions, programmes, years
    index_report: BuildReport | None = None
    index_job: IndexJob | None = field(default=None, repr=False)   # the index process of this build while it runs
    # True: the caller waits for the index after Pelican ran (`build_site` compresses the
    # output meanwhile); False: Pelican's `finalized` signal waits (a plain `pelican` run).
    index_waited_by_caller: bool = False
    # Makes the .gz copy of each page Pelican writes, beside the rendering (`build_site`).
    compressor: BackgroundCompressor | None = field(default=None, repr=False)
    backend: str = ""                    # CASEBOOK_SEARCH_BACKEND ("module:Class"), "" for Whoosh
    _index_key: str = field(default="", repr=False)   # the digest of the documents submitted
    index_docs: dict[str, dict] = field(default_factory=dict, repr=False)  # source path -> its index document's record
    database: str = ""                   # what became of data/cases.db: "kept", "updated" or "written"
    articles: int = 0
    drafts: int = 0
    _slugs: SlugMemo | None = field(default=None, repr=False)
    _shipped: dict | None = field(default=None, repr=False)
    _render: RenderRecord | None = field(default=None, repr=False)
    # A streaming index process: (source path, content hash) of each document sent so far.
    _streamed: list[tuple[str, str]] | None = field(default=None, repr=False)
    _doc_entries: dict[str, list] = field(default_factory=dict, repr=False)   # this build's, by key
    _kept_docs: dict | None = field(default=None, repr=False)   # the last build's (index-docs.json)
    _entry_of: dict[str, tuple[Case, str, list]] = field(default_factory=dict, repr=False)   # by source path
    # The content files as the build found them when it started (the index record keeps this
    # stamp: a file changed while the build ran makes the next build look again).
    _files_read: str = field(default="", repr=False)

    @classmethod
    def of_pelican_settings(cls, settings: dict) -> BuildSession:
        """A session for a Pelican run that `casebook build` did not start (`pelican -s
        pelicanconf.py`): paths from Pelican's settings, the data files from
        CASEBOOK_DATA_DIR (default scraper/data)."""
        data_dir = settings.get("CASEBOOK_DATA_DIR")
        output = Path(settings["OUTPUT_PATH"]).resolve()
        index = settings.get("CASEBOOK_INDEX_DIR")
        return cls(Path(settings["PATH"]).resolve(), output, Path(index) if index else None,
                   load_data(Path(data_dir) if data_dir else None), cache=output / CACHE_FOLDER)

    def __reduce__(self) -> tuple:
        """Pelican's reader cache pickles the settings along with each case's metadata (its
        category keeps them): a session is never kept there, only a note in its place."""
        return (str, ("a casebook build session (not kept between builds)",))

    # --- what plugins record while Pelican reads ------------------------------------------

    def fail(self, message: str) -> None:
        if message not in self.failed:
            self.failed.append(message)

    def drop(self, message: str) -> None:
        if message not in self.dropped:
            self.dropped.append(message)

    # --- what generators share -------------------------------------------------------------

    @property
    def slugs(self) -> SlugMemo:
        if self._slugs is None:
            self._slugs = SlugMemo(self.cache)
        return self._slugs

    @property
    def shipped_slugs(self) -> dict:
        """The slug table shipped with the data files (tools/build_slugs.py): every division
        of the gazetteer, every bank of the registry and every known programme."""
        if self._shipped is None:
            try:
                self._shipped = json.loads((self.data.directory / "slugs.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._shipped = {}
        return self._shipped

    @property
    def render(self) -> RenderRecord:
        """The record of which output file shows what (plugins/casebook_render_cache)."""
        if self._render is None:
            from plugins.casebook_render_cache import RenderRecord

            self._render = RenderRecord(self.output, self.cache, written=self.written)
        return self._render

    def written(self, path: str) -> None:
        """The build wrote an output file: its .gz copy is made beside the rendering (a plain
        `pelican` run, which has no compressor, makes none)."""
        if self.compressor is not None:
            self.compressor.written(path)

    @property
    def pages_rendered(self) -> int:
        return self._render.rendered if self._render else 0

    @property
    def pages_reused(self) -> int:
        """Pages unchanged since the last build: the previous output kept."""
        return self._render.reused if self._render else 0

    def data_digest(self) -> str:
        """A digest of every data file the build reads (the registry, the rules, the slug
        table): a page's fingerprint includes it, so a data edit renders everything again."""
        digest = hashlib.blake2b(digest_size=16)
        for file in sorted(p for p in self.data.directory.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(self.data.directory)).encode())
            digest.update(file.read_bytes())
        return digest.hexdigest()

    # --- the search index ------------------------------------------------------------------

    def start_index(self) -> None:
        """Start the index process now, so that it loads the backend and its segmenter while
        Pelican reads: when the last build of this output left no usable index record, or a
        file of the content folder changed since (its documents probably did). Otherwise the
        documents decide, once read, whether a process is needed at all."""
        if self.index is None or self.index_job is not None:
            return
        record = self._index_record()
        files = self._content_files()
        self._files_read = _digest(*files)
        if record is None or record.get("files") != self._files_read:
            self._start_job()
            # The documents go as Pelican makes each case (`stream_to_index`): the index
            # process analyses them while the rest are still being read.
            assert self.index_job is not None
            self.index_job.begin_stream(expected=sum(name.rsplit(":", 2)[0].endswith((".md", ".markdown"))
                                                     for name in files))
            self._streamed = []

    def stream_to_index(self, content: Any) -> None:
        """Pelican made a content object (`content_object_init`): a published case's index
        document goes to the streaming index process at once. Whether the stream was the
        final set is decided once the articles are final (`submit_index`)."""
        if self._streamed is None or self.index_job is None:
            return
        case = content.metadata.get("casebook_case")
        if case is None or getattr(content, "status", "") != "published" or content.source_path is None:
            return
        entry = self._index_entry(case, content.source_path, "/" + content.url)
        self._streamed.append((content.source_path, entry[0]))
        self.index_job.send(entry[1])

    def _index_entry(self, case: Case, source_path: str, url: str) -> list:
        """[content hash, record] of one case's index document: made by `IndexDoc.from_case`,
        or reused from this output's last build (index-docs.json) or from earlier in this one."""
        from search.schema import IndexDoc

        made = self._entry_of.get(source_path)
        if made is not None and made[0] is case and made[1] == url:   # streamed earlier in this build
            return made[2]
        path = source_path.removeprefix(str(self.content).rstrip("/") + "/")
        key = _digest(path, url, json.dumps([getattr(case, name) for name in FIELD_ORDER] + [case.body],
                                            ensure_ascii=False, default=str))
        entry = self._doc_entries.get(key) or self._known_docs().get(key)
        if entry is None:
            doc = IndexDoc.from_case(case, path=path, url=url)
            entry = [doc.content_hash(), doc.to_record()]
        self._doc_entries[key] = entry
        self._entry_of[source_path] = (case, url, entry)
        return entry

    def _known_docs(self) -> dict:
        """The index documents this output's last build made, by key (index-docs.json)."""
        if self._kept_docs is None:
            kept = read_cache(self.cache / INDEX_DOCS if self.cache else None, sources_digest_of(INDEX_DOC_SOURCES))
            self._kept_docs = kept if isinstance(kept, dict) else {}
        return self._kept_docs

    def index_documents(self, articles: list) -> list[tuple[str, dict]]:
        """The published cases as index documents, made by `IndexDoc.from_case` from the cases
        the reader parsed: (content hash, record) of each. A case unchanged since this
        output's last build reuses its document (index-docs.json in the cache folder), so
        a rebuild does not make 10,000 documents again for one edit."""
        return [(entry[0], entry[1]) for _, entry in self._final_entries(articles)]

    def _final_entries(self, articles: list) -> list[tuple[str, list]]:
        """(source path, [content hash, record]) of each published case, in Pelican's order."""
        entries = []
        for article in articles:
            case = self.cases.get(article.source_path)
            if case is None:
                continue
            entry = self._index_entry(case, article.source_path, "/" + article.url)
            entries.append((article.source_path, entry))
            self.index_docs[article.source_path] = entry[1]
        if self.cache is not None and self._doc_entries.keys() != self._known_docs().keys():
            # What this build made, for the next one (a case streamed and then set aside by
            # Pelican is kept too: harmless, and gone after the following build).
            write_cache(self.cache / INDEX_DOCS, sources_digest_of(INDEX_DOC_SOURCES), self._doc_entries)
        return entries

    def documents_of(self, articles: list) -> dict[str, dict]:
        """Source path -> index document record of these articles: the ones this build made
        for the index, or made now (a build without an index)."""
        if any(article.source_path not in self.index_docs for article in articles):
            self.index_documents(articles)
        return self.index_docs

    def submit_index(self, articles: list) -> None:
        """Once Pelican's articles are final: the index is to hold exactly these. A streaming
        index process is told the stream was the set (or, when it was not, replaced); when
        neither the documents nor the index changed since this output's last build, no
        process starts."""
        from search.schema import BuildReport, IndexDoc

        if self.index is None:
            return
        final = self._final_entries(articles)
        entries = [(entry[0], entry[1]) for _, entry in final]
        self._index_key = _digest(self.backend, self.data_digest(), *(hash_ for hash_, _ in entries))
        if self._streamed is not None and self.index_job is not None:
            streamed, self._streamed = self._streamed, None
            if sorted(streamed) == sorted((path, entry[0]) for path, entry in final):
                self.index_job.end_stream()
                return
            # Pelican set a case aside after making it (or made one twice): the streamed set
            # is not the index's. That process stops (the serving generation stays) and the
            # final set goes to a new one.
            self.index_job.abort()
            self.index_job = None
        record = self._index_record()
        if self.index_job is None and record is not None and record["key"] == self._index_key:
            self.index_report = BuildReport(generation=record["generation"], added=0, updated=0, removed=0,
                                            unchanged=len(entries), rebuilt=False,
                                            reason="nothing changed since the last build")
            return
        if self.index_job is None:
            self._start_job()
        assert self.index_job is not None
        self.index_job.submit([IndexDoc.from_record(doc) for _, doc in entries])

    def wait_index(self) -> None:
        """The end of the build: the index process's report (SearchError when it failed;
        the previous generation still serves), and the record for the next build."""
        job, self.index_job = self.index_job, None
        if job is None:
            return
        if not self._index_key:    # no articles generator ran: an index of no cases
            self.index_job = job
            self.submit_index([])
            job, self.index_job = self.index_job, None
            assert job is not None
        self.index_report = job.wait()
        if self.cache is not None and self.index is not None:
            write_cache(self.cache / INDEX_RECORD, str(self.index),
                        {"key": self._index_key, "generation": self.index_report.generation,
                         "stamp": _folder_stamp(self.index), "files": self._files_read or self._files_stamp()})

    def end_indexing(self) -> None:
        """End an index process that a failed build left running; the serving index stays."""
        job, self.index_job = self.index_job, None
        if job is not None:
            job.abort()

    def _files_stamp(self) -> str:
        """A digest of every content file's name, size and time: cheap (no file is read)."""
        return _digest(*self._content_files())

    def _content_files(self) -> list[str]:
        """Every content file as "path:size:time", sorted."""
        parts = []
        for folder, _dirs, names in os.walk(self.content):
            for name in names:
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                parts.append(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}")
        return sorted(parts)

    def _start_job(self) -> None:
        from search.update import IndexJob

        assert self.index is not None
        self.index_job = IndexJob.start(self.index, backend=self.backend or None, data_dir=self.data.directory)

    def _index_record(self) -> dict | None:
        """The index record of this output's last build, if the index folder is still the one
        it describes (not replaced, not updated by another build since)."""
        if self.cache is None or self.index is None:
            return None
        record = read_cache(self.cache / INDEX_RECORD, str(self.index))
        if not isinstance(record, dict) or record.get("stamp") != _folder_stamp(self.index):
            return None
        return record

    def finish(self) -> None:
        """After Pelican ran: the counts, then the strict rule."""
        self.articles = _count(self.output / "cases")
        self.drafts = _count(self.output / "drafts")
        if self.strict and (self.failed or self.dropped):
            raise CasebookError(f"{len(self.failed)} case file(s) are broken, {len(self.dropped)} value(s) unsafe",
                                hint="; ".join(self.failed + self.dropped))


def session_of(settings: dict) -> BuildSession:
    """The session of the build these Pelican settings belong to."""
    session = settings.get(SESSION_KEY)
    if not isinstance(session, BuildSession):
        raise CasebookError("Pelican runs without a Casebook build session",
                            hint="build with `casebook build`, or keep plugins.casebook_reader in PLUGINS")
    return session


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\0".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _folder_stamp(folder: Path) -> list[int] | None:
    """Which folder this is and when its entries last changed (a new index generation
    changes them, whatever the backend)."""
    try:
        stat = folder.stat()
    except OSError:
        return None
    return [stat.st_dev, stat.st_ino, stat.st_mtime_ns]


def _count(folder: Path) -> int:
    return sum(1 for _ in folder.glob("*/index.html")) if folder.is_dir() else 0


# The source files whose change may change any output file: the configuration, the theme,
# the plugins, and the rules a case is read by (the reader's HTML is made by these).
SOURCES = ("pelicanconf.py", "theme", "plugins", "casebook/model.py", "casebook/app/session.py", "casebook/check.py",
           "casebook/safety.py", "scraper/sanitize.py")


def sources_digest(theme: Path | None = None) -> str:
    return sources_digest_of(SOURCES, theme)


def sources_digest_of(names: tuple[str, ...], theme: Path | None = None) -> str:
    digest = hashlib.blake2b(digest_size=16)
    paths = [ROOT / name for name in names] + ([theme] if theme else [])
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            digest.update(str(file).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()
