"""`casebook build`: Pelican over a folder of cases (the project's settings, theme and
plugins), and the search index from the cases Pelican read."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from casebook.errors import CasebookError
from casebook.settings import ROOT


@dataclass
class BuildResult:
    articles: int
    drafts: int
    failed: list[str] = field(default_factory=list)      # case files skipped, each with file:line and reason
    dropped: list[str] = field(default_factory=list)     # values left out of published cases (unsafe URLs)
    index_report: object | None = None
    pages_rendered: int = 0
    pages_reused: int = 0       # unchanged since the last build: the previous output kept


def build_site(content: Path, output: Path, index: Path, *, preview: bool = True, strict: bool = False,
               settings_file: Path | None = None) -> BuildResult:
    from pelican import Pelican
    from pelican.settings import read_settings

    from plugins import casebook_render_cache as render_cache
    from plugins.casebook_reader import reader as case_reader
    from plugins.casebook_search import indexing

    content, output, index = Path(content).resolve(), Path(output).resolve(), Path(index).resolve()
    if not content.is_dir():
        raise CasebookError("the content folder does not exist", source=str(content),
                            hint="run `casebook ingest` first or pass --content")
    cases = content / "cases"
    article_paths = ["cases"] if cases.is_dir() else [""]
    override = {
        "PATH": str(content), "OUTPUT_PATH": str(output), "CASEBOOK_INDEX_DIR": str(index),
        "ARTICLE_PATHS": article_paths, "CASEBOOK_PREVIEW": preview, "CASEBOOK_STRICT": strict,
        # Rebuilds reuse what was read: a case file that did not change is not parsed again.
        "CACHE_CONTENT": True, "LOAD_CONTENT_CACHE": True, "CONTENT_CACHING_LAYER": "reader",
        "CACHE_PATH": str(index.parent / f".pelican-cache-{index.name}"), "GZIP_CACHE": False,
    }
    if not preview:
        override["DRAFT_SAVE_AS"] = ""
    _forget_reads_under_other_rules(Path(override["CACHE_PATH"]))
    settings = read_settings(str(settings_file or ROOT / "pelicanconf.py"), override=override)
    # Compiled templates are kept between builds (Jinja checks each one against its source).
    settings["JINJA_ENVIRONMENT"] = {**settings.get("JINJA_ENVIRONMENT", {}),
                                     "bytecode_cache": _template_cache(Path(override["CACHE_PATH"]) / "jinja")}
    case_reader.FAILED.clear()
    case_reader.DROPPED.clear()
    render_cache.LAST_STATS.clear()
    pelican = Pelican(settings)
    _quiet_pelican()
    try:
        pelican.run()
    finally:
        indexing.abort_stream()   # a build that failed midway leaves no index process behind
    failed, dropped = list(dict.fromkeys(case_reader.FAILED)), list(dict.fromkeys(case_reader.DROPPED))
    if strict and (failed or dropped):
        raise CasebookError(f"{len(failed)} case file(s) are broken, {len(dropped)} value(s) unsafe",
                            hint="; ".join(failed + dropped))
    articles = sum(1 for _ in (output / "cases").glob("*/index.html")) if (output / "cases").exists() else 0
    drafts = sum(1 for _ in (output / "drafts").glob("*/index.html")) if (output / "drafts").exists() else 0
    return BuildResult(articles, drafts, failed, dropped, indexing.LAST_REPORT[0] if indexing.LAST_REPORT else None,
                       render_cache.LAST_STATS.get("rendered", 0), render_cache.LAST_STATS.get("reused", 0))


# What decides how a case file is read: the rules, the reader, the sanitizer, the data files.
READ_RULES = ("casebook/check.py", "casebook/names.py", "casebook/model.py", "casebook/safety.py", "plugins/casebook_reader",
              "scraper/sanitize.py", "scraper/data")


def _forget_reads_under_other_rules(cache: Path) -> None:
    """Pelican's reader cache keeps each case as it was read, keyed by the file's time alone:
    after the rules change (a new check, a tighter sanitizer) a case read under the old ones
    would be published as it was then. The cache is dropped when the rules' digest changes."""
    digest = hashlib.blake2b(digest_size=16)
    for name in READ_RULES:
        path = ROOT / name
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode())
                digest.update(file.read_bytes())
    stamp = cache / "read-rules"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest.hexdigest():
        return
    for kept in cache.glob("*Readers*") if cache.is_dir() else []:   # ArticlesGenerator-Readers, ...
        kept.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest.hexdigest(), encoding="utf-8")


def _template_cache(folder: Path):  # type: ignore[no-untyped-def]
    from jinja2 import FileSystemBytecodeCache

    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemBytecodeCache(str(folder))


def _quiet_pelican() -> None:
    for name in ("pelican", "pelican.generators", "pelican.readers", "pelican.writers", "pelican.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
