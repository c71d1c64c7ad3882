"""The researchers' datasets beside cases.json and cases.csv: `data/cases.db` (SQLite made
with sqlite-utils, for Datasette or any SQLite client), its Datasette metadata
`data/metadata.json`, and the manifest `data/datasets.json` that names the version and the
number of cases of every dataset.

The version is `YYYY.MM.DD-<digest>`: the date of the newest published case and the first
ten hex digits of a digest of every published case (its dataset row and its body text) and
of the lookup tables' facts about their names (bank types, region codes, page URLs). It is
not the wall-clock build date on purpose: two builds of the same cases give the same dataset,
so an incremental build equals a full one and a download can be compared with another.

Every file is written atomically and only when it would change; cases.db records the key it
was built for in its `_meta` table and is written only when that key changes (the cases, the
schema below, the site's name and address or the SQLite library). A build that finds the
previous cases.db of the same schema in the output updates a copy of it with the changed
cases' rows (`write_database`); otherwise it is made from scratch. The two give the same
content, not the same bytes (`database_content` compares them).

Part of the application layer: the site generator (plugins/casebook_site/research.py)
hands it the build session's cases and their index text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from casebook.errors import SettingsError
from casebook.files import atomic_write

if TYPE_CHECKING:
    from sqlite_utils import Database

DATA_FILE = "datasets.yaml"          # in the data folder (scraper/data): texts, licence, Datasette tables
SHAPES = "cases-db-schema.json"      # the expected schema of cases.db, kept in the build's cache folder
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
    site's output rule) and its body as plain text (the search index's text of it,
    `IndexDoc.from_case`)."""

    row: dict[str, Any]
    text: str


@dataclass(frozen=True)
class Release:
    version: str       # YYYY.MM.DD-<digest>
    as_of: str         # the newest case's date (YYYY-MM-DD), "" without cases
    cases: int
    digest: str        # of every case's row and body
    per_case: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # slug -> digest of its row and text


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
    per_case = {}
    for case in cases:
        one = json.dumps(case.row, ensure_ascii=False, sort_keys=True, default=str).encode() + b"\0" + \
            case.text.encode() + b"\1"
        digest.update(one)
        per_case[str(case.row.get("slug"))] = hashlib.blake2b(one, digest_size=12).hexdigest()
    if lookups is not None:
        facts = [lookups.banks, lookups.programs, lookups.tags, sorted(map(list, lookups.regions.items()))]
        digest.update(json.dumps(facts, ensure_ascii=False, sort_keys=True).encode())
    hexdigest = digest.hexdigest()
    as_of = max((str(c.row.get("date") or "")[:10] for c in cases), default="")
    day = as_of.replace("-", ".") if as_of else "0000.00.00"
    return Release(version=f"{day}-{hexdigest[:10]}", as_of=as_of, cases=len(cases), digest=hexdigest,
                   per_case=per_case if len(per_case) == len(cases) else {})


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
#
# cases.db is a set of tables, each a set of rows the cases and the lookups determine
# (`_tables`). A full build creates the schema and inserts every row; an incremental one
# copies the previous file (same schema) and applies the difference of each table's rows,
# keeping the full-text index in step with `cases`. Both give the same content (not the
# same bytes: rowids and FTS segments differ), which `database_content` compares.

FTS_SHADOW = ("cases_fts_data", "cases_fts_idx", "cases_fts_docsize", "cases_fts_config")
CASE_COLUMNS: dict[str, Any] = {
    "slug": str, "title": str, "date": str, "year": int, "category": str, "province": str, "city": str,
    "district": str, "source": str, "source_url": str, "via": str, "url": str, "summary": str, "text": str,
    **{name: str for name in JSON_COLUMNS}, "cover": str, "status": str,
}


@dataclass
class Table:
    """The rows a table of cases.db is to hold, each a tuple in the order of `columns`."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


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
        with _read_only(path) as connection:
            found = connection.execute("select value from _meta where key = 'build_key'").fetchone()
    except sqlite3.Error:
        return None
    return found[0] if found else None


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection that cannot change the file, closed on leaving."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        yield connection
    finally:
        connection.close()


def database_is_current(path: Path, key: str) -> bool:
    """True when cases.db was built for `key`. Temporary files a killed build left beside it
    go first: they would be published with the site."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    return stored_key(path) == key


def write_database(path: Path, cases: Sequence[DatasetCase], release: Release, lookups: Lookups,
                   site: dict[str, str], memo: Path | None = None) -> str:
    """cases.db for these cases, made in a temporary file beside `path` and renamed over it:
    "kept" when the file on disk was built for the same key, "updated" when the previous
    file (same schema) was copied and changed where the cases changed, "written" when it was
    made from scratch. `memo` (in the build's cache folder) keeps each case's digest under
    the key of the file written: the next update then makes and compares only the rows of
    the cases whose digest changed, not every case's row."""
    key = database_key(release, site)
    current = database_is_current(path, key)
    if not current:
        known = _read_memo(memo, stored_key(path))
        changed = None if known is None or not release.per_case else \
            {slug for slug, digest in release.per_case.items() if known.get(slug) != digest} | \
            (known.keys() - release.per_case.keys())
        tables = _tables(cases, release, lookups, site, key, changed)
        shapes = memo.with_name(SHAPES) if memo is not None else None
        update = _same_shape(path, tables, shapes)
        if changed is not None and not update:   # written anew: every case's row
            changed, tables = None, _tables(cases, release, lookups, site, key)
            update = _same_shape(path, tables, shapes)
        try:
            outcome = _write(path, tables, changed, update)
        except sqlite3.DatabaseError:
            if not update:
                raise
            # The previous file could not be updated (damaged, or changed by hand): the rows
            # from scratch, which fail again only when the cases themselves are at fault.
            outcome = _write(path, _tables(cases, release, lookups, site, key), None, update=False)
    if memo is not None and release.per_case and _read_memo(memo, key) is None:
        atomic_write(memo, json.dumps({"key": key, "value": release.per_case}))
    return "kept" if current else outcome


def _read_memo(memo: Path | None, key: str | None) -> dict[str, str] | None:
    """The digests of the cases of the cases.db built for `key`, or None."""
    if memo is None or key is None:
        return None
    try:
        stored = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = stored.get("value") if isinstance(stored, dict) and stored.get("key") == key else None
    return value if isinstance(value, dict) else None


def _write(path: Path, tables: dict[str, Table], changed: set[str] | None, update: bool) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if update:
            shutil.copyfile(path, tmp)
            _update(Path(tmp), tables, changed)
            outcome = "updated"
        else:
            _fill(Path(tmp), tables)
            outcome = "written"
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return outcome


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path)
    # A private temporary file until the rename: no journal, no waiting for the disk.
    connection.execute("pragma journal_mode = off")
    connection.execute("pragma synchronous = off")
    return connection


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"pragma table_info([{table}])")]


def _same_shape(path: Path, tables: dict[str, Table], shapes: Path | None = None) -> bool:
    """True when the previous cases.db has exactly the schema a new one would have (every
    table, column, index and the full-text table's settings, as SQLite records them) and
    this SCHEMA: then it is updated, not written again."""
    if not path.is_file():
        return False
    try:
        with _read_only(path) as connection:
            found = connection.execute("select value from _meta where key = 'schema'").fetchone()
            shape = _schema_of(connection)
    except sqlite3.Error:
        return False
    return found == (str(SCHEMA),) and shape == _expected_schema(tables, shapes)


def _schema_of(connection: sqlite3.Connection) -> list[tuple]:
    return sorted(connection.execute("select type, name, tbl_name, sql from sqlite_master"), key=repr)


def _expected_schema(tables: dict[str, Table], shapes: Path | None = None) -> list[tuple]:
    """The schema of a new cases.db with these tables' columns: made in memory, or read from
    `shapes` (the build's cache) where it was kept under the same key — the columns, this
    module's code and the SQLite and sqlite-utils versions — so that a rebuild after an edit
    does not load sqlite-utils (and numpy with it) only to compare schemas."""
    from importlib.metadata import version

    key = hashlib.blake2b(json.dumps([str(SCHEMA), sqlite3.sqlite_version, version("sqlite-utils"),
                                      hashlib.blake2b(Path(__file__).read_bytes()).hexdigest(),
                                      {name: table.columns for name, table in sorted(tables.items())}]).encode(),
                          digest_size=16).hexdigest()
    kept = _read_memo(shapes, key)
    if kept is not None and isinstance(kept.get("schema"), list):
        return [tuple(row) for row in kept["schema"]]
    import sqlite_utils

    connection = sqlite3.connect(":memory:")
    try:
        _create_schema(sqlite_utils.Database(connection), tables)
        schema = _schema_of(connection)
    finally:
        connection.close()
    if shapes is not None:
        atomic_write(shapes, json.dumps({"key": key, "value": {"schema": schema}}))
    return schema


def _create_schema(db: Database, tables: dict[str, Table]) -> None:
    _create_cases(db)
    for name in LINKED:
        _create_lookup(db, name, tables[name].columns)
    _create_regions(db)
    _create_meta(db)


def _fill(path: Path, tables: dict[str, Table]) -> None:
    import sqlite_utils

    path.unlink(missing_ok=True)   # mkstemp's empty file: SQLite starts a new database
    connection = _connect(path)
    db = sqlite_utils.Database(connection)
    try:
        _create_schema(db, tables)
        for name, table in tables.items():
            _insert(connection, name, table.columns, table.rows)
        db.table("cases").populate_fts(FTS_COLUMNS)
        # No VACUUM: the same writes in the same order already give the same bytes, and VACUUM
        # may renumber the rowids of a table without an INTEGER PRIMARY KEY, which cases_fts uses.
        connection.commit()
    finally:
        connection.close()


def _update(path: Path, tables: dict[str, Table], changed: set[str] | None) -> None:
    """Apply to a copy of the previous cases.db the difference of every table's rows; a
    changed case's row is deleted and inserted again, its full-text entry with it. With
    `changed` (the slugs of the cases changed, added or removed), `tables` holds the rows of
    those cases only, and only their rows are read."""
    connection = _connect(path)
    try:
        for name, table in tables.items():
            if name == "cases":
                _update_cases(connection, table, changed)
            else:
                gone, new = _difference(connection, name, table)
                where = " and ".join(f"[{column}] is ?" for column in table.columns)
                connection.executemany(f"delete from [{name}] where {where}", gone)
                _insert(connection, name, table.columns, new)
        connection.commit()
    finally:
        connection.close()


def _difference(connection: sqlite3.Connection, name: str, table: Table, with_rowid: bool = False,
                where: str = "", values: tuple = ()) -> tuple[list[tuple], list[tuple]]:
    """The rows of `name` (those `where` selects) that are to go and the rows to insert (each
    set in a fixed order)."""
    selected = ", ".join(f"[{column}]" for column in table.columns)
    prefix = "rowid, " if with_rowid else ""
    existing = {row[1:] if with_rowid else row: row
                for row in connection.execute(f"select {prefix}{selected} from [{name}] {where}", values)}
    wanted = set(table.rows)
    gone = sorted((row for values, row in existing.items() if values not in wanted), key=repr)
    new = [row for row in table.rows if row not in existing]
    return gone, new


def _update_cases(connection: sqlite3.Connection, table: Table, changed: set[str] | None) -> None:
    """cases_fts takes its text from `cases` (an external-content table without triggers):
    a row's entry is deleted with the row's old values before the row goes, and added with
    the new row's rowid after it is inserted."""
    if changed is None:
        gone, new = _difference(connection, "cases", table, with_rowid=True)
    else:   # json_each: one parameter for any number of slugs (SQLite's limit is 32,766)
        gone, new = _difference(connection, "cases", table, with_rowid=True,
                                where="where slug in (select value from json_each(?))",
                                values=(json.dumps(sorted(changed), ensure_ascii=False),))
    at = {column: number + 1 for number, column in enumerate(table.columns)}   # +1: the rowid first
    fts = ", ".join(FTS_COLUMNS)
    marks = ", ".join("?" for _ in FTS_COLUMNS)
    for row in gone:
        connection.execute(f"insert into cases_fts(cases_fts, rowid, {fts}) values ('delete', ?, {marks})",
                           (row[0], *(row[at[column]] for column in FTS_COLUMNS)))
    connection.executemany("delete from cases where rowid = ?", [(row[0],) for row in gone])
    slug = table.columns.index("slug")
    _insert(connection, "cases", table.columns, new)
    for row in new:
        connection.execute(f"insert into cases_fts(rowid, {fts}) select rowid, {fts} from cases where slug = ?",
                           (row[slug],))


def _insert(connection: sqlite3.Connection, name: str, columns: list[str], rows: Iterable[tuple]) -> None:
    names = ", ".join(f"[{column}]" for column in columns)
    marks = ", ".join("?" for _ in columns)
    connection.executemany(f"insert into [{name}] ({names}) values ({marks})", rows)


# The schema: created once by a full build, kept by the updates.

def _create_cases(db: Database) -> None:
    db.table("cases").create(CASE_COLUMNS, pk="slug", not_null={"title", "url"})
    # The full-text table is made while `cases` is empty and filled at the end (`populate_fts`):
    # its in-memory hash is raised from 1 MB, so the index is written in fewer, larger segments
    # (measured at 1,000 cases: 40% less CPU, a 15% smaller file). The setting is kept in the
    # table's config, so updates use it too.
    db.table("cases").enable_fts(FTS_COLUMNS, fts_version="FTS5", tokenize="trigram", create_triggers=False)
    db.execute(f"insert into cases_fts(cases_fts, rank) values ('hashsize', {FTS_HASH_BYTES})")
    for column in FACET_INDEXES:
        db.table("cases").create_index([column])


def _create_lookup(db: Database, name: str, columns: list[str]) -> None:
    """A lookup table and its link table to the cases, with the names and columns
    sqlite-utils' `m2m` gives them (banks_cases: banks_id, cases_id)."""
    db.table(name).create({column: int if column == "id" else str for column in columns}, pk="id",
                          not_null={"name"})
    db.table(name).create_index(["name"], unique=True)
    _create_link(db, name)


def _create_link(db: Database, name: str) -> None:
    table = "_".join(sorted(["cases", name]))
    first, second = sorted([f"{name}_id", "cases_id"])   # m2m's order; the key's index serves `first`
    db.table(table).create({f"{name}_id": int, "cases_id": str}, pk=(first, second),
                           foreign_keys=[(f"{name}_id", name, "id"), ("cases_id", "cases", "slug")])
    db.table(table).create_index([second])


def _create_regions(db: Database) -> None:
    db.table("regions").create({"id": int, "name": str, "level": str, "code": str, "parent_id": int, "url": str},
                               pk="id", not_null={"name", "level"}, foreign_keys=[("parent_id", "regions", "id")])
    for columns in (["name"], ["level"], ["parent_id"]):
        db.table("regions").create_index(columns)
    _create_link(db, "regions")


def _create_meta(db: Database) -> None:
    db.table("_meta").create({"key": str, "value": str}, pk="key")


# The rows.

def _tables(cases: Sequence[DatasetCase], release: Release, lookups: Lookups, site: dict[str, str],
            key: str, changed: set[str] | None = None) -> dict[str, Table]:
    """Every table of cases.db and the rows it is to hold (the link tables after their
    lookup). With `changed`, the cases table holds the rows of those slugs' cases only."""
    tables = {"cases": Table(list(CASE_COLUMNS), [_case_row(case) for case in cases
                                                  if changed is None or str(case.row.get("slug")) in changed])}
    for name in LINKED:
        tables.update(_linked(name, cases, getattr(lookups, name)))
    tables.update(_regions(cases, lookups.regions))
    rows = [("version", release.version), ("as_of", release.as_of), ("cases", str(release.cases)),
            ("digest", release.digest), ("schema", str(SCHEMA)), ("site", site.get("name", "")),
            ("site_url", site.get("url", "")), ("build_key", key)]
    tables["_meta"] = Table(["key", "value"], rows)
    return tables


def _cell(value: object) -> object:
    """A value as SQLite stores and returns it, so that the rows wanted compare equal to the
    rows read back."""
    if value is None or isinstance(value, str | float) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return int(value) if isinstance(value, bool) else str(value)


def _case_row(case: DatasetCase) -> tuple[Any, ...]:
    row = case.row
    date = str(row.get("date") or "")
    record: dict[str, Any] = {name: row.get(name) for name in CASE_COLUMNS}
    record.update(date=date or None, year=int(date[:4]) if date[:4].isdigit() else None, text=case.text)
    for name in JSON_COLUMNS:   # JSON arrays: Datasette's array facets count their values
        record[name] = json.dumps(row.get(name) or [], ensure_ascii=False)
    return tuple(_cell(record[name]) for name in CASE_COLUMNS)


def _linked(name: str, cases: Sequence[DatasetCase], known: dict[str, dict[str, str | None]]) -> dict[str, Table]:
    """The lookup table of the names one list field uses, and its link table to the cases."""
    names = sorted({value for case in cases for value in case.row.get(name) or [] if isinstance(value, str)})
    ids = {value: number for number, value in enumerate(names, 1)}
    extra = sorted({column for value in names for column in known.get(value, {})})
    lookup = Table(["id", "name", *extra],
                   [(ids[value], value, *(_cell(known.get(value, {}).get(c)) for c in extra)) for value in names])
    links = sorted({(case.row["slug"], ids[value]) for case in cases for value in case.row.get(name) or []
                    if isinstance(value, str)})
    return {name: lookup, "_".join(sorted(["cases", name])): Table([f"{name}_id", "cases_id"],
                                                                  [(other, slug) for slug, other in links])}


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


def _regions(cases: Sequence[DatasetCase], known: dict[tuple[str, ...], dict[str, str | None]]) -> dict[str, Table]:
    paths = sorted({path for case in cases for path in region_paths(case.row)}, key=lambda p: (len(p), p))
    ids = {path: number for number, path in enumerate(paths, 1)}
    rows = []
    for path in paths:
        parent = path[:-1] if len(path) < 3 or path[1] else path[:1]
        rows.append((ids[path], path[-1], REGION_LEVELS[len(path) - 1], _cell(known.get(path, {}).get("code")),
                     ids.get(parent) if parent else None, _cell(known.get(path, {}).get("url"))))
    links = sorted({(case.row["slug"], ids[path]) for case in cases for path in region_paths(case.row)})
    return {"regions": Table(["id", "name", "level", "code", "parent_id", "url"], rows),
            "cases_regions": Table(["regions_id", "cases_id"], [(other, slug) for slug, other in links])}


def database_content(path: Path) -> dict[str, list[tuple]]:
    """What cases.db holds, whatever order its rows were written in: the schema, every
    table's rows sorted (the full-text table's through its columns, the rowid left out: an
    updated file numbers its rows differently) and the full-text index's own check, which
    fails when the index does not match the rows. Two files with equal content are the same
    dataset. (Read-write: FTS5 runs its check as a write that changes nothing, rolled back.)"""
    if not path.is_file():
        raise FileNotFoundError(path)
    connection = sqlite3.connect(path)
    try:
        content: dict[str, list[tuple]] = {
            "sqlite_master": sorted(connection.execute("select type, name, tbl_name, sql from sqlite_master"),
                                    key=repr)}
        for (name,) in connection.execute("select name from sqlite_master where type = 'table'").fetchall():
            if name in FTS_SHADOW:
                continue
            columns = ", ".join(f"[{column}]" for column in _columns(connection, name))
            content[name] = sorted(connection.execute(f"select {columns} from [{name}]"), key=repr)
        if "cases_fts" in content:   # raises sqlite3.DatabaseError when the index and the rows disagree
            connection.execute("insert into cases_fts(cases_fts, rank) values ('integrity-check', 1)")
            connection.rollback()
    finally:
        connection.close()
    return content


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
