"""A Pelican reader for case files: YAML front matter (the maintained pelican-yaml-metadata
reader underneath) checked against the content model before anything is rendered.

A broken case is reported with its file, line and reason and skipped; the rest of the
site builds (`casebook build --strict` fails instead). Dates of month precision
(2021-10) are kept as written for display and sorted as the month's first day.
"""

from __future__ import annotations

import html
import logging
import os
import re
import signal
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from pelican import Pelican, signals
from pelican.generators import ArticlesGenerator, Generator
from pelican.plugins.yaml_metadata.yaml_metadata import YAMLMetadataReader
from pelican.readers import Readers
from pelican.utils import SafeDatetime

from casebook.app.session import SESSION_KEY, BuildSession, session_of
from casebook.check import check_text, content_root, fatal, leaves, rules_of, site_metadata
from casebook.errors import ContentError
from casebook.model import FIELD_ORDER, LIST_FIELDS, Case, date_to_datetime, normalize_date, split_front_matter
from casebook.safety import safe_url, strip_invisible, url_scheme
from scraper.sanitize import sanitize

log = logging.getLogger(__name__)


SET_BELOW = frozenset({"date", "authors", "author"})   # fields `_read` sets itself


class CaseReader(YAMLMetadataReader):
    enabled = True
    file_extensions: ClassVar[list[str]] = ["md", "markdown"]

    def read(self, source_path: str) -> tuple[str, dict]:
        """The case's HTML and Pelican metadata; the metadata also carries the parsed `Case`
        (`casebook_case`) and the values left out (`casebook_dropped`), so the session gets
        them whether the file was read now or served from Pelican's reader cache."""
        session = session_of(self.settings)
        try:
            return self._read(source_path, session)
        except Refused:
            raise
        except ContentError as exc:   # the render budget ran out
            session.fail(str(exc))
            raise

    def _read(self, source_path: str, session: BuildSession) -> tuple[str, dict]:
        data = session.data
        text = self._text(source_path, rules_of(data).max_file_bytes, session)
        problems, meta = check_text(text, source_path, data)
        errors = fatal(problems)
        for problem in problems:
            if problem.severity != "error":
                log.warning("%s", problem)
        if errors or meta is None:
            for problem in errors:
                session.fail(str(problem))
            raise Refused("; ".join(str(p) for p in errors) + SKIPPED)
        dropped = []
        for problem in problems:
            if problem.severity == "error":   # repaired: the value is left out
                dropped.append(str(problem))
                log.warning("%s — left out of the site", problem)
        # One YAML parse per file (the checked one), then the yaml_metadata reader's own
        # processing of the fields (tags, category, ...) and the Markdown body. Only the
        # content model's fields go on: a key Pelican would obey (save_as, template, ...)
        # never reaches it, whatever `check` said.
        meta = site_metadata(meta, data)
        with render_budget(rules_of(data).render_seconds, source_path):
            # The date and the reporters are set below from the checked values: Pelican's
            # parse of the date (dateutil, the costliest field) and its Author objects would be
            # thrown away.
            metadata = self._parse_yaml_metadata({k: v for k, v in meta.items() if k not in SET_BELOW}, source_path)
            # Pelican formats these fields (the summary) with Markdown itself: they get the
            # body's sanitizer, or a link or <script> in a summary would be live in the feeds.
            for name in self.settings.get("FORMATTED_FIELDS", []):
                if isinstance(metadata.get(name), str):
                    metadata[name] = self._safe_html(metadata[name])
            parts = split_front_matter(text)
            body = parts[1] if parts else ""   # check_text parsed it: the front matter is there
            self._md.Meta = {k: [str(v)] for k, v in meta.items()}
            # Editors may write raw HTML in Markdown; whatever they write, nothing unsafe is published.
            content = self._safe_html(self._md.reset().convert(strip_invisible(body)))
        iso = normalize_date(meta.get("date"))
        if iso is None:
            # An undated draft (check allows it only for drafts): Pelican dates it at the end
            # of time; the page shows no date.
            metadata.pop("date", None)
            metadata["date_iso"] = ""
            metadata["date_display"] = "日期待定"
        else:
            moment = date_to_datetime(iso)
            metadata["date"] = SafeDatetime(moment.year, moment.month, moment.day, moment.hour, moment.minute,
                                            moment.second, tzinfo=moment.tzinfo)
            metadata["date_iso"] = iso
            metadata["date_display"] = display_date(iso)
        for name in ("banks", "programs", "figures", "images", "review", "reposts"):
            metadata[name] = list(meta.get(name) or [])
        metadata["authors_list"] = list(meta.get("authors") or [])
        metadata.pop("authors", None)   # Pelican would make author pages of reporters' names
        metadata.pop("author", None)
        metadata.update(self._locations(metadata))
        metadata["casebook_case"] = case_of(meta, body)
        metadata["casebook_dropped"] = dropped
        return content, metadata

    def _safe_html(self, html: str) -> str:
        """HTML the site may publish: the body's sanitizer, no invisible characters, and no
        Pelican link marker in front of a URL with a scheme. Pelican rewrites `{static}x`
        links after we sanitized, and for a target it cannot find it puts the value's own
        scheme back in front: `{static}javascript:alert(1)` became `javascript:...`."""
        marker = re.compile(INTRASITE_ATTR.format(self.settings.get("INTRASITE_LINK_REGEX", "[{|](?P<what>.*?)[|}]")))
        return marker.sub(_neutral_link, strip_invisible(sanitize(html)))

    def _text(self, source_path: str, limit: int, session: BuildSession) -> str:
        """The file's text; a file reached through a link leaving the content folder, too
        large, or not UTF-8 is a failed case (with its reason), never published."""
        root = self.settings.get("PATH") or content_root(Path(source_path))
        problem = None
        try:
            if leaves(Path(source_path), Path(root)):
                problem = (f"symbolic link to {os.path.realpath(source_path)}, outside the content folder — "
                           "not published (copy the file into content/ instead)")
            elif not os.path.isfile(source_path):   # a FIFO or device would block the read forever
                problem = "not a regular file"
            elif os.path.getsize(source_path) > limit:
                problem = f"the file is larger than {limit:,} bytes"
            else:
                with open(source_path, encoding="utf-8-sig") as fh:
                    return fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"cannot read the file: {exc}"
        session.fail(f"{source_path}:1: {problem}")
        raise Refused(f"{source_path}:1: {problem}" + SKIPPED)

    def _locations(self, metadata: dict) -> dict:
        """The case's URL and file name, set here (as `url` and `save_as`, which Pelican keeps
        as its overrides) when the site's patterns need nothing but the slug: Pelican would
        otherwise format them from the settings on every access, ~25 times per case in a
        build. Anything else (drafts Pelican may date-shift, other patterns) is left to it."""
        status = str(metadata.get("status") or "published").lower()
        if status != "published" or not metadata.get("slug") or not self.settings.get("WITH_FUTURE_DATES", True):
            return {}
        url, save_as = self.settings.get("ARTICLE_URL", ""), self.settings.get("ARTICLE_SAVE_AS", "")
        if not (_slug_only(url) and _slug_only(save_as)):
            return {}
        slug = str(metadata["slug"])
        return {"url": url.format(slug=slug), "save_as": save_as.format(slug=slug)}


SKIPPED = " — skipped; run `casebook check` for hints"


class Refused(ContentError):
    """A case file not published; its problems are in the session's `failed` already."""


def case_of(meta: dict, body: str) -> Case:
    """The checked front matter and the body as the content model's record (what the index
    and the datasets are made from)."""
    case = Case(body=body.strip())
    for name in FIELD_ORDER:
        if meta.get(name) is None:
            continue
        value = meta[name]
        if name == "date":
            value = normalize_date(value)
        elif name in LIST_FIELDS:
            value = list(value) if isinstance(value, list) else [value]
        setattr(case, name, value)
    return case


class RenderTimeout(ContentError):
    """One case took longer to render than its budget."""


@contextmanager
def render_budget(seconds: float, source_path: str) -> Iterator[None]:
    """At most `seconds` to render one case: Python-Markdown is superlinear on some inputs
    (`check` refuses the known ones: dense runs of link syntax); this catches the rest. A
    timer signal interrupts the rendering; the case is then skipped with its reason. Only in
    the main thread (where Pelican reads), and only when no other timer is set."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or \
            signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise RenderTimeout(f"rendering took longer than {seconds:g} s", source=source_path, line=1,
                            hint="split long paragraphs and remove runs of Markdown symbols")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# An attribute whose quoted value starts with Pelican's link marker (nh3 writes attributes
# double-quoted, with & < > " escaped).
INTRASITE_ATTR = r'(?P<attr>\s[\w-]+=")(?P<marker>{})(?P<value>[^"]*)"'


def _neutral_link(match: re.Match) -> str:
    value = html.unescape(match.group("value"))
    if url_scheme(value) is not None or safe_url(value) is None:
        return f'{match.group("attr")}#"'
    return match.group(0)


@lru_cache(maxsize=16)
def _slug_only(pattern: str) -> bool:
    return bool(pattern) and {name for _, name, _, _ in string.Formatter().parse(pattern) if name} <= {"slug"}


def display_date(iso: str) -> str:
    """2022-02-24T15:09:08+08:00 -> 2022年2月24日; 2021-10 -> 2021年10月."""
    parts = iso[:10].split("-")
    if len(parts) == 1:
        return f"{parts[0]}年"
    if len(parts) == 2:
        return f"{parts[0]}年{int(parts[1])}月"
    return f"{parts[0]}年{int(parts[1])}月{int(parts[2])}日"


def add_reader(readers: Readers) -> None:
    """Case files are read by CaseReader alone. Pelican's other readers (.html, .htm, .rst,
    .mkd, .mdown) would publish a file's raw HTML and obey its metadata (save_as, template)
    unchecked, so they are removed: such a file in content/ is not read at all."""
    for extension in list(readers.reader_classes):
        if extension != "static":
            del readers.reader_classes[extension]
    for extension in CaseReader.file_extensions:
        readers.reader_classes[extension] = CaseReader


def open_session(pelican: Pelican) -> None:
    """A Pelican run that `casebook build` did not start (`pelican -s pelicanconf.py`) gets
    its session here; then the settings that come from the data files: category and tag
    slugs from the taxonomy, the search page's fields."""
    settings = pelican.settings
    if not isinstance(settings.get(SESSION_KEY), BuildSession):
        settings[SESSION_KEY] = BuildSession.of_pelican_settings(settings)
    taxonomy = session_of(settings).data.taxonomy
    for key, kind in (("CATEGORY_REGEX_SUBSTITUTIONS", "categories"), ("TAG_REGEX_SUBSTITUTIONS", "tags")):
        settings[key] = [(rf"^{re.escape(t['name'])}$", t["slug"]) for t in taxonomy[kind]] + list(settings[key])
    if "SEARCH_FIELDS" not in settings:
        from search.fields import client_table

        settings["SEARCH_FIELDS"] = client_table()


def record_cases(generator: Generator) -> None:
    """The cases and pages Pelican kept (read now or from its cache), recorded in the session."""
    session = session_of(generator.settings)
    for name in ("articles", "drafts", "hidden_articles", "pages", "hidden_pages", "draft_pages"):
        for content in getattr(generator, name, None) or []:
            case = content.metadata.get("casebook_case")
            if case is not None:
                session.cases[content.source_path] = case
            for message in content.metadata.get("casebook_dropped") or []:
                session.drop(message)


def index_articles(generator: ArticlesGenerator) -> None:
    """The articles are final (drafts, hidden and broken cases are not among them): the
    session sends them to the index process, which works while Pelican renders."""
    record_cases(generator)
    session_of(generator.settings).submit_index(list(generator.articles))


def stream_to_index(content: object) -> None:
    """Pelican made a content object: a published case's index document is sent at once
    when the index process streams (see BuildSession.stream_to_index)."""
    session = getattr(content, "settings", {}).get(SESSION_KEY)
    if isinstance(session, BuildSession):
        session.stream_to_index(content)


def wait_for_index(pelican: Pelican) -> None:
    """A plain `pelican` run ends with the index; `casebook build` waits for it itself, after
    making the .gz copies (they overlap the index process's last seconds)."""
    session = session_of(pelican.settings)
    if not session.index_waited_by_caller:
        session.wait_index()


def register() -> None:
    signals.initialized.connect(open_session)
    signals.readers_init.connect(add_reader)
    signals.content_object_init.connect(stream_to_index)
    signals.article_generator_finalized.connect(index_articles)
    signals.page_generator_finalized.connect(record_cases)
    signals.finalized.connect(wait_for_index)
