"""A Pelican reader for case files: YAML front matter (the maintained pelican-yaml-metadata
reader underneath) checked against the content model before anything is rendered.

A broken case is reported with its file, line and reason and skipped; the rest of the
site builds (`casebook build --strict` fails instead). Dates of month precision
(2021-10) are kept as written for display and sorted as the month's first day.
"""

from __future__ import annotations

import logging
import string
from functools import lru_cache
from typing import ClassVar

from pelican import signals
from pelican.plugins.yaml_metadata.yaml_metadata import YAMLMetadataReader
from pelican.utils import SafeDatetime

from casebook.check import check_text
from casebook.errors import ContentError
from casebook.model import date_to_datetime, normalize_date, split_front_matter
from scraper.data import load_data
from scraper.sanitize import sanitize

log = logging.getLogger(__name__)
FAILED: list[str] = []   # problems of this build, for `casebook build` to report and --strict to fail on


class CaseReader(YAMLMetadataReader):
    enabled = True
    file_extensions: ClassVar[list[str]] = ["md", "markdown"]

    def read(self, source_path: str):  # type: ignore[override]
        with open(source_path, encoding="utf-8-sig") as fh:
            text = fh.read()
        problems, meta = check_text(text, source_path, load_data())
        errors = [p for p in problems if p.severity == "error"]
        for problem in problems:
            if problem.severity != "error":
                log.warning("%s", problem)
        if errors or meta is None:
            FAILED.extend(str(p) for p in errors)
            raise ContentError("; ".join(str(p) for p in errors) + " — skipped; run `casebook check` for hints")
        # One YAML parse per file (the checked one), then the yaml_metadata reader's own
        # processing of the fields (tags, category, ...) and the Markdown body.
        metadata = self._parse_yaml_metadata(dict(meta), source_path)
        body = split_front_matter(text)[1]  # type: ignore[index]
        self._md.Meta = {k: [str(v)] for k, v in meta.items()}  # type: ignore[attr-defined]
        # Editors may write raw HTML in Markdown; whatever they write, nothing unsafe is published.
        content = sanitize(self._md.reset().convert(body))
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
        return content, metadata

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


def add_reader(readers) -> None:  # type: ignore[no-untyped-def]
    for extension in CaseReader.file_extensions:
        readers.reader_classes[extension] = CaseReader


def register() -> None:
    signals.readers_init.connect(add_reader)
