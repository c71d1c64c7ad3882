"""The site's side of the researchers' datasets (casebook/datasets.py): the published cases
and what the site knows of their banks, regions, programmes and tags, handed over as plain
records; then the dataset page data/index.html, which names the version and how to cite it.

cases.db takes seconds at thousands of cases (the text of every case, the trigram index), so
when it must be written a forked process writes it while the pages render, as the search
index is built. The version changes with any case, so only the dataset page names it: a case
page's citation links there, or every edit would render every case page again.
"""

from __future__ import annotations

import contextlib
import errno
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from casebook.data import Data
from casebook.datasets import (
    DATABASE,
    DatasetCase,
    Lookups,
    Release,
    database_is_current,
    database_key,
    load_texts,
    region_paths,
    release_of,
    write_database,
    write_descriptions,
)
from casebook.errors import CasebookError
from plugins.casebook_search.indexing import article_text  # the index's text of a case: one text for both


class ResearchDatasets:
    """The researchers' datasets of one build: started once the cases are final (the site
    generator's context), finished at the end of its output phase."""

    def __init__(self, generator: Any, row_of: Any) -> None:
        """`generator` is the site generator (context, settings, data, output folder), `row_of`
        makes a case's cases.json row."""
        context, settings = generator.context, generator.settings
        self.context, self.settings = context, settings
        self.folder = Path(generator.output_path) / "data"
        self.texts = load_texts(generator.data.directory)
        self.cases = [DatasetCase(row_of(article), article.content or "") for article in context["articles"]]
        siteurl = str(settings.get("SITEURL") or "").rstrip("/")
        self.site = {"name": str(settings.get("SITENAME", "")), "url": siteurl, "home_url": f"{siteurl}/",
                     "data_url": f"{siteurl}/data/"}
        self.found = lookups(context, generator.data)
        self.release: Release = release_of(self.cases, self.found)
        self.key = database_key(self.release, self.site)
        self.process: Any = None
        if not database_is_current(self.folder / f"{DATABASE}.db", self.key):
            self._start()

    def _start(self) -> None:
        """Build cases.db in a forked process, into a staging folder: the output folder may
        still be emptied before the pages are written (a build without a record of the last
        one), which would take a file being written there with it."""
        self.staged = Path(self.settings.get("CACHE_PATH") or tempfile.gettempdir()) / f"{DATABASE}-{os.getpid()}.db"
        context = multiprocessing.get_context("fork")   # the cases reach the child without pickling
        self.conn, child = context.Pipe(duplex=False)
        self.process = context.Process(target=_database_in_child, daemon=True,
                                       args=(child, self.staged, self.cases, self.release, self.found, self.site,
                                             os.getpid()))
        self.process.start()
        child.close()

    def finish(self, writer: Any) -> dict[str, Any]:
        """Wait for cases.db and put it in place, write the descriptions and the dataset page;
        the manifest."""
        path = self.folder / f"{DATABASE}.db"
        if self.process is not None:
            try:
                status, message = self.conn.recv()
            except EOFError:
                status, message = "error", "the process writing it died"
            self.process.join()
            self.conn.close()
            self.process = None
            if status != "ok":
                self.staged.unlink(missing_ok=True)
                raise CasebookError(f"{DATABASE}.db was not written: {message}", source=str(self.folder),
                                    hint="the previous file is unchanged; fix the cause and build again")
            install(self.staged, path)
        elif not database_is_current(path, self.key):   # it was current, then the output folder was emptied
            write_database(path, self.cases, self.release, self.found, self.site, article_text)
        described = write_descriptions(self.folder, self.texts, self.release, self.site)
        template = self.settings["_casebook_env"].get_template("dataset.html")
        writer.write_file("data/index.html", template, self.context,
                          relative_urls=self.settings.get("RELATIVE_URLS", False), url="data/", dataset=described)
        return described


def install(staged: Path, path: Path) -> None:
    """Move a finished file into place atomically: a rename on one file system, else a copy
    beside the target renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(staged, path)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(staged, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    staged.unlink(missing_ok=True)


def _database_in_child(conn: Any, path: Path, cases: list[DatasetCase], release: Release, found: Lookups,
                       site: dict[str, str], parent: int) -> None:
    """Write cases.db, and report. Not niced, unlike the index process: the build waits for
    it at the end of its output phase, and on a busy machine a niced child made a one-edit
    rebuild wait four times as long. A killed build's child stops at its next step and
    renames nothing: the database would not match the manifest the build never wrote."""
    try:
        write_database(path, cases, release, found, site, article_text, wanted=lambda: os.getppid() == parent)
        outcome = ("ok", "")
    except BaseException as exc:   # whatever it was, the build reports it
        outcome = ("error", f"{type(exc).__name__}: {exc}")
    with contextlib.suppress(OSError):   # a killed build reads nothing
        conn.send(outcome)
    conn.close()


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
