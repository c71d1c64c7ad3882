"""The researchers' datasets beside cases.json and cases.csv: `data/cases.db` (SQLite made
with sqlite-utils, for Datasette or any SQLite client), its Datasette metadata
`data/metadata.json`, and the manifest `data/datasets.json` that names the version and the
number of cases of every dataset.

The version is `YYYY.MM.DD-<digest>`: the date of the newest published case and the first
ten hex digits of a digest of every published case (its dataset row and its body) and of
the lookup tables' facts about their names (bank types, region codes, page URLs). It is
not the wall-clock build date on purpose: two builds of the same cases write the same bytes,
so an incremental build equals a full one and a download can be compared with another.

Every file is written atomically and only when its bytes would change; cases.db records the
key it was built for in its `_meta` table and is rebuilt only when that key changes (the
cases, the schema below, the site's name and address or the SQLite library).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from casebook.errors import SettingsError
from casebook.files import atomic_write

if TYPE_CHECKING:
    from sqlite_utils import Database

DATA_FILE = "datasets.yaml"          # in the data folder (scraper/data): texts, licence, Datasette tables
SCHEMA = 1                           # raise when the tables change: cases.db is then rebuilt
DATABASE = "cases"                   # cases.db: Datasette names the database after the file
LINKED = ("banks", "programs", "tags")   # list fields of a case that become lookup + link tables
JSON_COLUMNS = ("banks", "programs", "tags", "authors", "figures", "images", "reposts", "review")
FACET_INDEXES = ("category", "province", "city", "year", "date", "source")
REGION_LEVELS = ("province", "city", "district")
FTS_COLUMNS = ["title", "summary", "text"]
FTS_HASH_BYTES = 64 * 1024 * 1024   # FTS5's in-memory index before a flush: the bound of its memory


@dataclass(frozen=True)
class DatasetCase:
    """One published case as the datasets hold it: the row of cases.json (already under the
    site's output rule) and the rendered body (its text goes to cases.db)."""

    row: dict[str, Any]
    body_html: str


@dataclass(frozen=True)
class Release:
    version: str       # YYYY.MM.DD-<digest>
    as_of: str         # the newest case's date (YYYY-MM-DD), "" without cases
    cases: int
    digest: str        # of every case's row and body


@dataclass
class Lookups:
    """What the site knows about the names the cases use, for the lookup tables' columns:
    a bank's type and page, a programme's or tag's page, a region's code and page. A region
    is keyed by its path: (province,), (province, city) or (province, city, district), where
    the city may be "" (a district directly under its province)."""

    banks: dict[str, dict[str, str | None]] = field(default_factory=dict)
    programs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    tags: dict[str, dict[str, str | None]] = field(default_factory=dict)
    regions: dict[tuple[str, ...], dict[str, str | None]] = field(default_factory=dict)


def load_texts(data_dir: Path) -> dict[str, Any]:
    """datasets.yaml of the data folder: the datasets' titles, licence and Datasette tables."""
    path = data_dir / DATA_FILE
    try:
        texts = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"data file {path} cannot be read ({exc.strerror})", hint="restore it from git") from exc
    except yaml.YAMLError as exc:
        raise SettingsError(f"data file is not valid YAML: {exc}", source=str(path)) from exc
    missing = [k for k in ("title", "description", "licence", "licence_url", "cite", "files", "tables", "queries")
               if not isinstance(texts, dict) or k not in texts]
    if missing:
        raise SettingsError(f"datasets.yaml lacks {', '.join(missing)}", source=str(path))
    return texts


def release_of(cases: Sequence[DatasetCase], lookups: Lookups | None = None) -> Release:
    """The version of a collection: the same cases (rows and bodies) and the same facts about
    their names (a bank's type, a region's code: the data files') give the same version."""
    digest = hashlib.blake2b(digest_size=16)
    for case in cases:
        digest.update(json.dumps(case.row, ensure_ascii=False, sort_keys=True, default=str).encode())
        digest.update(b"\0")
        digest.update(case.body_html.encode())
        digest.update(b"\1")
    if lookups is not None:
        facts = [lookups.banks, lookups.programs, lookups.tags, sorted(map(list, lookups.regions.items()))]
        digest.update(json.dumps(facts, ensure_ascii=False, sort_keys=True).encode())
    hexdigest = digest.hexdigest()
    as_of = max((str(c.row.get("date") or "")[:10] for c in cases), default="")
    day = as_of.replace("-", ".") if as_of else "0000.00.00"
    return Release(version=f"{day}-{hexdigest[:10]}", as_of=as_of, cases=len(cases), digest=hexdigest)


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` atomically unless the file already holds it (its time then stays too)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    atomic_write(path, text)
    return True


# --- the SQLite database ----------------------------------------------------------------


def database_key(release: Release, site: dict[str, str]) -> str:
    """What cases.db is a function of: the cases, the schema, the site and SQLite itself
    (its version is in the file's header)."""
    from importlib.metadata import version

    parts = [release.digest, str(SCHEMA), sqlite3.sqlite_version, version("sqlite-utils"),
             json.dumps(site, ensure_ascii=False, sort_keys=True)]
    return hashlib.blake2b("\0".join(parts).encode(), digest_size=16).hexdigest()


def stored_key(path: Path) -> str | None:
    """The key an existing cases.db was built for, or None (no file, not a database, no key)."""
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as connection:
            found = connection.execute("select value from _meta where key = 'build_key'").fetchone()
        connection.close()
    except sqlite3.Error:
        return None
    return found[0] if found else None


def database_is_current(path: Path, key: str) -> bool:
    """True when cases.db was built for `key`. Temporary files a killed build left beside it
    go first: they would be published with the site."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    return stored_key(path) == key


class Abandoned(Exception):
    """The build that wanted cases.db is gone: the temporary file is dropped, nothing renamed."""


def write_database(path: Path, cases: Sequence[DatasetCase], release: Release, lookups: Lookups,
                   site: dict[str, str], text_of: Callable[[str], str],
                   wanted: Callable[[], bool] = lambda: True) -> bool:
    """cases.db for these cases, built in a temporary file beside `path` and renamed over it;
    nothing is written when the file on disk was built for the same key. True if written.
    `wanted` is asked between the steps: once it says no, the work stops (`Abandoned`)."""
    key = database_key(release, site)
    if database_is_current(path, key):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        _fill(Path(tmp), cases, release, lookups, site, key, text_of, wanted)
        if not wanted():
            raise Abandoned(str(path))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _fill(path: Path, cases: Sequence[DatasetCase], release: Release, lookups: Lookups, site: dict[str, str],
          key: str, text_of: Callable[[str], str], wanted: Callable[[], bool]) -> None:
    import sqlite_utils

    path.unlink(missing_ok=True)   # mkstemp's empty file: SQLite starts a new database
    connection = sqlite3.connect(path)
    # A private temporary file until the rename: no journal, no waiting for the disk.
    connection.execute("pragma journal_mode = off")
    connection.execute("pragma synchronous = off")
    db = sqlite_utils.Database(connection)
    try:
        _cases_table(db, cases, text_of)
        for name in LINKED:
            _linked(db, name, cases, getattr(lookups, name))
        _regions(db, cases, lookups.regions)
        if not wanted():
            raise Abandoned(str(path))
        db.table("cases").populate_fts(FTS_COLUMNS)
        _meta_table(db, release, site, key)
        # No VACUUM: the same writes in the same order already give the same bytes, and VACUUM
        # may renumber the rowids of a table without an INTEGER PRIMARY KEY, which cases_fts uses.
        connection.commit()
    finally:
        connection.close()


def _cases_table(db: Database, cases: Sequence[DatasetCase], text_of: Callable[[str], str]) -> None:
    columns: dict[str, Any] = {
        "slug": str, "title": str, "date": str, "year": int, "category": str, "province": str, "city": str,
        "district": str, "source": str, "source_url": str, "via": str, "url": str, "summary": str, "text": str,
        **{name: str for name in JSON_COLUMNS}, "cover": str, "status": str,
    }
    db.table("cases").create(columns, pk="slug", not_null={"title", "url"})
    # The full-text table is made while `cases` is empty and filled at the end (`populate_fts`):
    # in between, its in-memory hash is raised from 1 MB, so the index is written in fewer,
    # larger segments (measured at 1,000 cases: 40% less CPU, a 15% smaller file).
    db.table("cases").enable_fts(FTS_COLUMNS, fts_version="FTS5", tokenize="trigram", create_triggers=False)
    db.execute(f"insert into cases_fts(cases_fts, rank) values ('hashsize', {FTS_HASH_BYTES})")
    db.table("cases").insert_all((_case_record(case, text_of) for case in cases), batch_size=500)
    for column in FACET_INDEXES:
        db.table("cases").create_index([column])


def _case_record(case: DatasetCase, text_of: Callable[[str], str]) -> dict[str, Any]:
    row = case.row
    date = str(row.get("date") or "")
    record: dict[str, Any] = {
        name: row.get(name) for name in ("slug", "title", "category", "province", "city", "district", "source",
                                         "source_url", "via", "url", "summary", "cover", "status")}
    record.update(date=date or None, year=int(date[:4]) if date[:4].isdigit() else None, text=text_of(case.body_html))
    for name in JSON_COLUMNS:   # JSON arrays: Datasette's array facets count their values
        record[name] = json.dumps(row.get(name) or [], ensure_ascii=False)
    return record


def _linked(db: Database, name: str, cases: Sequence[DatasetCase], known: dict[str, dict[str, str | None]]) -> None:
    """A lookup table of the names one list field uses and its link table to the cases, with
    the names and columns sqlite-utils' `m2m` gives them (banks_cases: banks_id, cases_id)."""
    names = sorted({value for case in cases for value in case.row.get(name) or [] if isinstance(value, str)})
    ids = {value: number for number, value in enumerate(names, 1)}
    extra = sorted({column for value in names for column in known.get(value, {})})
    columns: dict[str, Any] = {"id": int, "name": str, **{column: str for column in extra}}
    db.table(name).create(columns, pk="id", not_null={"name"})
    db.table(name).insert_all({"id": ids[value], "name": value, **{c: known.get(value, {}).get(c) for c in extra}}
                        for value in names)
    db.table(name).create_index(["name"], unique=True)
    links = sorted({(case.row["slug"], ids[value]) for case in cases for value in case.row.get(name) or []
                    if isinstance(value, str)})
    _link_table(db, name, "id", links)


def _link_table(db: Database, name: str, key: str, links: Iterable[tuple[str, int]]) -> None:
    table = "_".join(sorted(["cases", name]))
    first, second = sorted([f"{name}_id", "cases_id"])   # m2m's order; the key's index serves `first`
    db.table(table).create({f"{name}_id": int, "cases_id": str}, pk=(first, second),
                           foreign_keys=[(f"{name}_id", name, key), ("cases_id", "cases", "slug")])
    db.table(table).insert_all({f"{name}_id": other, "cases_id": slug} for slug, other in links)
    db.table(table).create_index([second])


def region_paths(row: dict[str, Any]) -> list[tuple[str, ...]]:
    """The regions a case names, each as its path from the province: (四川省,), (四川省, 成都市),
    (四川省, 成都市, 成华区). A city equal to its province (上海市) is the province; a district
    without a city hangs under the province, its path then holds "" for the city."""
    province, city, district = (str(row.get(name) or "") for name in REGION_LEVELS)
    if not province:
        return []
    city = "" if city == province else city
    paths: list[tuple[str, ...]] = [(province,)]
    if city:
        paths.append((province, city))
    if district:
        paths.append((province, city, district))
    return paths


def _regions(db: Database, cases: Sequence[DatasetCase], known: dict[tuple[str, ...], dict[str, str | None]]) -> None:
    paths = sorted({path for case in cases for path in region_paths(case.row)}, key=lambda p: (len(p), p))
    ids = {path: number for number, path in enumerate(paths, 1)}
    db.table("regions").create({"id": int, "name": str, "level": str, "code": str, "parent_id": int, "url": str},
                         pk="id", not_null={"name", "level"}, foreign_keys=[("parent_id", "regions", "id")])
    records = []
    for path in paths:
        parent = path[:-1] if len(path) < 3 or path[1] else path[:1]
        records.append({"id": ids[path], "name": path[-1], "level": REGION_LEVELS[len(path) - 1],
                        "code": known.get(path, {}).get("code"), "parent_id": ids.get(parent) if parent else None,
                        "url": known.get(path, {}).get("url")})
    db.table("regions").insert_all(records)
    for columns in (["name"], ["level"], ["parent_id"]):
        db.table("regions").create_index(columns)
    links = sorted({(case.row["slug"], ids[path]) for case in cases for path in region_paths(case.row)})
    _link_table(db, "regions", "id", links)


def _meta_table(db: Database, release: Release, site: dict[str, str], key: str) -> None:
    rows = [("version", release.version), ("as_of", release.as_of), ("cases", str(release.cases)),
            ("digest", release.digest), ("schema", str(SCHEMA)), ("site", site.get("name", "")),
            ("site_url", site.get("url", "")), ("build_key", key)]
    db.table("_meta").create({"key": str, "value": str}, pk="key")
    db.table("_meta").insert_all({"key": k, "value": v} for k, v in rows)


# --- metadata and manifest ------------------------------------------------------------------


def _fill_in(text: str, values: dict[str, str]) -> str:
    return text.format_map(values) if "{" in text else text


def _values(texts: dict[str, Any], release: Release, site: dict[str, str]) -> dict[str, str]:
    values = {"version": release.version, "cases": str(release.cases), "as_of": release.as_of or "—",
              "site": site.get("name", ""), "title": str(texts["title"]), "url": site.get("data_url", "")}
    return values


def datasette_metadata(texts: dict[str, Any], release: Release, site: dict[str, str]) -> dict[str, Any]:
    """Datasette's metadata for cases.db: titles, descriptions, licence, source, facets,
    sortable columns and the canned queries of datasets.yaml."""
    values = _values(texts, release, site)
    tables: dict[str, Any] = {}
    for name, table in texts["tables"].items():
        entry = {k: v for k, v in table.items() if k != "description"}
        tables[name] = {"description": _fill_in(str(table.get("description", "")), values), **entry}
    queries = {name: {**query, "title": query.get("title", name)} for name, query in texts["queries"].items()}
    common = {"license": texts["licence"], "license_url": texts["licence_url"], "source": site.get("name", "")}
    if site.get("url"):   # a preview build has no address: "/" would be Datasette's own home
        common["source_url"] = site["home_url"]
    return {
        "title": _fill_in(str(texts["title"]), values),
        "description": _fill_in(str(texts["description"]), values).strip(),
        **common,
        "databases": {DATABASE: {"title": _fill_in(str(texts["title"]), values),
                                 "description": _fill_in(str(texts["description"]), values).strip(),
                                 **common, "tables": tables, "queries": queries}},
    }


def manifest(texts: dict[str, Any], release: Release, site: dict[str, str]) -> dict[str, Any]:
    """data/datasets.json: the version and size of every dataset, the licence and how to cite."""
    values = _values(texts, release, site)
    base = site.get("data_url", "")
    return {
        "title": texts["title"], "version": release.version, "as_of": release.as_of, "cases": release.cases,
        "digest": release.digest, "licence": texts["licence"], "licence_url": texts["licence_url"],
        "licence_note": str(texts.get("licence_note", "")).strip(), "cite": _fill_in(str(texts["cite"]), values),
        "files": [{**entry, "url": f"{base}{entry['name']}"} for entry in texts["files"]],
        "datasette": f"datasette data/{DATABASE}.db -m data/metadata.json",
    }


def write_descriptions(folder: Path, texts: dict[str, Any], release: Release, site: dict[str, str]) -> dict[str, Any]:
    """metadata.json (Datasette's) and datasets.json (the manifest) in `folder`, each only when
    it changes. Returns the manifest."""
    dump = lambda value: json.dumps(value, ensure_ascii=False, indent=2) + "\n"  # noqa: E731
    write_if_changed(folder / "metadata.json", dump(datasette_metadata(texts, release, site)))
    described = manifest(texts, release, site)
    write_if_changed(folder / "datasets.json", dump(described))
    return described


def write_datasets(folder: Path, cases: Sequence[DatasetCase], lookups: Lookups, site: dict[str, str],
                   data_dir: Path, text_of: Callable[[str], str]) -> dict[str, Any]:
    """cases.db, metadata.json and datasets.json in `folder` (the site's data/), one after the
    other, each only when it changes. Returns the manifest."""
    texts = load_texts(data_dir)
    release = release_of(cases, lookups)
    write_database(folder / f"{DATABASE}.db", cases, release, lookups, site, text_of)
    return write_descriptions(folder, texts, release, site)
