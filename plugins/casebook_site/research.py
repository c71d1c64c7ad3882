"""The site's side of the researchers' datasets (casebook/app/datasets.py): the published
cases and what the site knows of their banks, regions, programmes and tags, handed over as
plain records; then the dataset page data/index.html, which names the version and how to
cite it.

A case's text in cases.db is its index document's text (`IndexDoc.from_case`, which the
build session makes once per case and keeps between builds), so the database and the search
index hold one text and no page is parsed back. cases.db is written on a thread of the build's
own process while the pages render (from the end of the site generator's context to the
end of its output): a one-case edit updates a copy of the
previous file (milliseconds), and a full write is a small part of a full build (README,
Datasets). The version changes with any case, so only the dataset page names it: a case
page's citation links there, or every edit would render every case page again.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from casebook.app.datasets import (
    DATABASE,
    DatasetCase,
    Lookups,
    load_texts,
    region_paths,
    release_of,
    write_database,
    write_descriptions,
)
from casebook.data import Data
from casebook.errors import CasebookError

DATABASE_MEMO = "cases-db.json"   # in the build's cache folder: each case's digest in the last cases.db


class ResearchDatasets:
    """The researchers' datasets of one build: the cases taken once they are final (the site
    generator's context), the files written in its output phase."""

    def __init__(self, generator: Any, row_of: Any) -> None:
        """`generator` is the site generator (context, settings, session, output folder),
        `row_of` makes a case's cases.json row."""
        self.generator = generator
        context, settings, session = generator.context, generator.settings, generator.session
        self.folder = Path(generator.output_path) / "data"
        self.texts = load_texts(session.data.directory)
        docs = session.documents_of(context["articles"])
        self.cases = [DatasetCase(row_of(article), str(docs.get(article.source_path, {}).get("text", "")))
                      for article in context["articles"]]
        siteurl = str(settings.get("SITEURL") or "").rstrip("/")
        self.site = {"name": str(settings.get("SITENAME", "")), "url": siteurl, "home_url": f"{siteurl}/",
                     "data_url": f"{siteurl}/data/"}
        self.found = lookups(context, session.data)
        self.release = release_of(self.cases, self.found)
        self.database = ""     # what write_database did: kept, updated or written
        # cases.db is written on a thread of its own while the pages render: its rows are
        # final now, and SQLite lets go of the GIL while it inserts and builds the full-text
        # index, so most of that work runs beside the rendering. `finish` waits for it.
        # (Pelican empties the output folder before any generator makes its context, so
        # nothing removes the file under the thread.)
        cache = session.cache
        self._writing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casebook-cases-db")
        self._database_path = self.folder / f"{DATABASE}.db"
        self._database = self._writing.submit(write_database, self._database_path, self.cases,
                                              self.release, self.found, self.site,
                                              memo=cache / DATABASE_MEMO if cache else None)
        self._writing.shutdown(wait=False)   # the one job runs on; the thread ends with it

    def finish(self, writer: Any) -> dict[str, Any]:
        """The descriptions and the dataset page, then cases.db once its thread is done
        (kept, updated or written; its error, if any, is raised here); the manifest."""
        described = write_descriptions(self.folder, self.texts, self.release, self.site)
        settings = self.generator.settings
        writer.write_file("data/index.html", self.generator.get_template("dataset"), self.generator.context,
                          relative_urls=settings.get("RELATIVE_URLS", False), url="data/", dataset=described)
        try:
            self.database = self._database.result()
        except (OSError, sqlite3.Error) as exc:
            raise CasebookError(f"cannot write the researchers' database: {exc}", source=str(self._database_path),
                                hint="the previous file, if any, is left as it was; remove what is in the way "
                                     "(a folder or a read-only file of that name) or free the disk, and build "
                                     "again") from exc
        return described


def lookups(context: dict[str, Any], data: Data) -> Lookups:
    """The site's pages and the data files' facts for every name the cases use."""
    site = context["casebook"]
    found = Lookups(
        banks={name: {"type": value.group, "url": f"/{value.url}"} for name, value in site["banks"].items()},
        programs={name: {"url": f"/{value.url}"} for name, value in site["programs"].items()},
        tags={tag.name: {"url": f"/{tag.url}"} for tag, _ in context.get("tags") or []},
    )
    for article in context["articles"]:
        for path in region_paths(article.metadata):
            if path not in found.regions:
                found.regions[path] = {"code": region_code(data, path), "url": _region_url(site["provinces"], path)}
    return found


def region_code(data: Data, path: tuple[str, ...]) -> str | None:
    """The administrative division code of a region path, when the gazetteer names exactly
    one division there (a district name alone is often shared by several cities)."""
    gazetteer = data.gazetteer
    matches = []
    for region in gazetteer.by_name.get(path[-1], []):
        if region.level != ("province", "city", "district")[len(path) - 1] or gazetteer.province_of(region).name != path[0]:
            continue
        if len(path) == 3 and path[1]:
            city = gazetteer.city_of(region)
            if city is None or city.name != path[1]:
                continue
        matches.append(region.code)
    return matches[0] if len(matches) == 1 else None


def _region_url(provinces: dict[str, Any], path: tuple[str, ...]) -> str | None:
    province = provinces.get(path[0])
    if province is None or len(path) == 3:
        return None   # districts have no page of their own
    if len(path) == 1:
        return f"/{province.url}"
    city = next((child for child in province.children if child.name == path[1]), None)
    return f"/{city.url}" if city else None
