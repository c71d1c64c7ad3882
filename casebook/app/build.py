"""`casebook build`: Pelican over a folder of cases (the project's settings, theme and
plugins), and the search index from the cases Pelican read.

`build_site` makes the build session (casebook/app/session.py), gives it to Pelican in
the settings, runs Pelican and returns the session: the result of the build.
See docs/build.md for the flow.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from casebook.app.compress import BackgroundCompressor, precompress
from casebook.app.session import CACHE_FOLDER, SESSION_KEY, BuildSession
from casebook.data import load_data
from casebook.errors import CasebookError
from casebook.settings import ROOT

BuildResult = BuildSession   # what `build_site` returns, under its older name


def build_site(content: Path, output: Path, index: Path | None, *, preview: bool = True, strict: bool = False,
               settings_file: Path | None = None, data_dir: Path | None = None, backend: str | None = None,
               overrides: dict | None = None) -> BuildSession:
    """Build the site of `content` into `output` (and the search index into `index`, unless
    None) and return the session. `overrides` are Pelican settings over the settings file's
    (e.g. THEME); `data_dir` is the data folder (default scraper/data); `backend` the search
    backend ("module:Class"; default: the search_backend setting, CASEBOOK_SEARCH_BACKEND)."""
    from pelican import Pelican
    from pelican.settings import read_settings

    content, output = Path(content).resolve(), Path(output).resolve()
    if not content.is_dir():
        raise CasebookError("the content folder does not exist", source=str(content),
                            hint="run `casebook ingest` first or pass --content")
    data = load_data(Path(data_dir).resolve() if data_dir else None)
    cache = output / CACHE_FOLDER
    # Pelican's reader cache holds every file read, drafts included: never in the output
    # folder, which is served. It is keyed by each file's path and time, so it stays correct
    # when the output folder is deleted; what it was read under is checked below.
    reads = output.parent / f".{output.name}.casebook-reads"
    settings_path = Path(settings_file or ROOT / "pelicanconf.py")
    if backend is None:
        from casebook.settings import load

        backend = load().search_backend
    session = BuildSession(content, output, Path(index).resolve() if index else None, data, preview=preview,
                           strict=strict, cache=cache, backend=backend)
    override = {
        "PATH": str(content), "OUTPUT_PATH": str(output), "CASEBOOK_INDEX_DIR": str(session.index or ""),
        "CASEBOOK_DATA_DIR": str(data.directory),
        "ARTICLE_PATHS": ["cases"] if (content / "cases").is_dir() else [""],
        # Rebuilds reuse what was read: a case file that did not change is not parsed again.
        "CACHE_CONTENT": True, "LOAD_CONTENT_CACHE": True, "CONTENT_CACHING_LAYER": "reader",
        "CACHE_PATH": str(reads), "GZIP_CACHE": False,
        **(overrides or {}),
    }
    if not preview:
        override["DRAFT_SAVE_AS"] = ""
    _forget_reads_under_other_rules(reads, data.directory, f"{settings_path.read_bytes()!r}{sorted(override.items())!r}")
    settings = read_settings(str(settings_path), override=override)
    settings[SESSION_KEY] = session
    _clean_output_through_settings(settings, session)
    # Compiled templates are kept between builds (Jinja checks each one against its source).
    settings["JINJA_ENVIRONMENT"] = {**settings.get("JINJA_ENVIRONMENT", {}),
                                     "bytecode_cache": _template_cache(cache / "jinja")}
    pelican = Pelican(settings)
    _quiet_pelican()
    session.index_waited_by_caller = True
    # .gz copies for nginx's gzip_static (casebook/app/compress.py): each page's while the
    # next ones render, the rest at the end while the index process finishes its update.
    session.compressor = BackgroundCompressor(output)
    try:
        session.start_index()
        pelican.run()
        session.compressor.close()
        precompress(output)
        session.wait_index()
    finally:
        session.compressor.close()
        session.end_indexing()   # a build that failed midway leaves no index process behind
    session.finish()
    return session


def _clean_output_through_settings(settings: dict, session: BuildSession) -> None:
    """Pelican empties the output folder before writing (DELETE_OUTPUT_DIRECTORY). The render
    record needs the previous pages, so when one exists the session does the cleaning
    instead: it deletes exactly the pages the previous build wrote and this one did not.
    Without a record Pelican empties the folder, keeping the cache folder."""
    clean = bool(settings.get("DELETE_OUTPUT_DIRECTORY"))
    settings["OUTPUT_RETENTION"] = [*settings.get("OUTPUT_RETENTION", []), CACHE_FOLDER]
    settings["CASEBOOK_REMOVE_STALE"] = clean
    if clean and session.render.previous:
        settings["DELETE_OUTPUT_DIRECTORY"] = False


# What decides how a case file is read: the rules, the reader, the sanitizer (and the data files).
READ_RULES = ("casebook/check.py", "casebook/names.py", "casebook/model.py", "casebook/safety.py", "plugins/casebook_reader",
              "scraper/sanitize.py")


def _forget_reads_under_other_rules(cache: Path, data_dir: Path, settings: str) -> None:
    """Pelican's reader cache keeps each case as it was read, keyed by the file's time alone:
    after the rules change (a new check, a tighter sanitizer, another data folder, other
    settings) a case read under the old ones would be published as it was then. The cache
    is dropped when the rules' digest changes."""
    digest = hashlib.blake2b(settings.encode("utf-8", "surrogatepass"), digest_size=16)
    for path in [*(ROOT / name for name in READ_RULES), data_dir]:
        for file in sorted(path.rglob("*") if path.is_dir() else [path]):
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file).encode())
                digest.update(file.read_bytes())
    stamp = cache / "read-rules"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == digest.hexdigest():
        return
    for kept in cache.glob("*Readers*") if cache.is_dir() else []:   # ArticlesGenerator-Readers, ...
        kept.unlink(missing_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest.hexdigest(), encoding="utf-8")


def _template_cache(folder: Path) -> object:
    from jinja2 import FileSystemBytecodeCache

    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemBytecodeCache(str(folder))


def _quiet_pelican() -> None:
    for name in ("pelican", "pelican.generators", "pelican.readers", "pelican.writers", "pelican.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)
