"""The researchers' datasets: data/cases.db opened by Datasette itself (a real `datasette
serve` on loopback, with the metadata the build writes) and queried through its JSON API;
the database checked with SQLite against cases.json; versions, determinism and incremental
builds checked against full ones."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import html

from casebook.app.datasets import DatasetCase, Lookups, database_content, release_of, write_database
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow


def _cases(output: Path) -> list[dict]:
    return json.loads((output / "data" / "cases.json").read_text(encoding="utf-8"))


def _bodies(output: Path, rows: list[dict]) -> dict[str, str]:
    """Each case's title, summary and body text as its page shows them: the brute force."""
    texts = {}
    for row in rows:
        page = html.parse(str(output / row["url"].strip("/") / "index.html"))
        body = page.xpath("string(//div[@class='case-body'])")
        texts[row["slug"]] = "\n".join([row["title"] or "", row["summary"] or "", body])
    return texts


@pytest.fixture(scope="module")
def datasette(built_site) -> Iterator[httpx.Client]:
    """`datasette serve data/cases.db -m data/metadata.json`, the command README gives."""
    data = built_site["output"] / "data"
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "datasette", "serve", str(data / "cases.db"), "-m", str(data / "metadata.json"),
         "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"datasette did not start: {process.stderr.read().decode()[-2000:] if process.stderr else ''}")
            time.sleep(0.2)
        yield httpx.Client(base_url=base, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_database_holds_every_published_case_with_valid_links(built_site):
    out = built_site["output"]
    rows = _cases(out)
    manifest = json.loads((out / "data" / "datasets.json").read_text(encoding="utf-8"))
    with sqlite3.connect(out / "data" / "cases.db") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
        assert db.execute("pragma foreign_key_check").fetchall() == []
        assert sorted(s for (s,) in db.execute("select slug from cases")) == sorted(r["slug"] for r in rows)
        for name, link in (("banks", "banks_cases"), ("programs", "cases_programs"), ("tags", "cases_tags")):
            linked = Counter(db.execute(f"select {name}.name from {link} join {name} on {name}.id = {link}.{name}_id"))
            assert linked == Counter((value,) for row in rows for value in row[name]), name
        regions = dict(db.execute("select cases_id, group_concat(name, '|') from cases_regions join regions "
                                  "on regions.id = regions_id where level = 'province' group by cases_id"))
        assert regions == {r["slug"]: r["province"] for r in rows if r["province"]}
        codes = dict(db.execute("select name, code from regions"))
        assert codes["四川省"] == "510000" and codes["成都市"] == "510100"
        meta = dict(db.execute("select key, value from _meta"))
    assert len(rows) == 4 and manifest["cases"] == 4 and meta["cases"] == "4"
    assert meta["version"] == manifest["version"]
    newest = max(r["date"][:10] for r in rows)
    assert manifest["version"].startswith(newest.replace("-", ".") + "-") and manifest["as_of"] == newest


def test_datasette_facets_count_the_cases(built_site, datasette):
    rows = _cases(built_site["output"])
    answer = datasette.get("/cases/cases.json", params={"_facet": "category", "_size": "0"}).json()
    assert answer["filtered_table_rows_count"] == len(rows)
    facets = answer["facet_results"]
    assert {v["value"]: v["count"] for v in facets["category"]["results"]} == Counter(r["category"] for r in rows)
    # The metadata's own facets: banks as an array facet over the JSON column, province, year.
    assert {v["value"]: v["count"] for v in facets["banks"]["results"]} == Counter(b for r in rows for b in r["banks"])
    assert {v["value"]: v["count"] for v in facets["province"]["results"]} == Counter(
        r["province"] for r in rows if r["province"])
    assert {v["value"]: v["count"] for v in facets["year"]["results"]} == Counter(int(r["date"][:4]) for r in rows)
    bank = rows[0]["banks"][0]
    chosen = datasette.get("/cases/cases.json", params={"_facet_array": "banks", "banks__arraycontains": bank,
                                                        "_shape": "objects"}).json()
    assert sorted(r["slug"] for r in chosen["rows"]) == sorted(r["slug"] for r in rows if bank in r["banks"])


@pytest.mark.parametrize("word", ["心家园", "社区治理", "农商银行", "金融服务"])
def test_full_text_search_finds_what_brute_force_finds(built_site, datasette, word):
    rows = _cases(built_site["output"])
    expected = sorted(slug for slug, text in _bodies(built_site["output"], rows).items() if word in text)
    answer = datasette.get("/cases/cases.json", params={"_search": word, "_shape": "array", "_col": "title"}).json()
    assert sorted(r["slug"] for r in answer) == expected
    assert expected, f"{word} should occur in the sample cases"


@pytest.mark.parametrize("word", ["社区", "银行", "网格", "%", "_"])
def test_short_terms_go_through_the_like_query(built_site, datasette, word):
    rows = _cases(built_site["output"])
    expected = sorted(slug for slug, text in _bodies(built_site["output"], rows).items() if word in text)
    answer = datasette.get("/cases/search_short.json", params={"q": word, "_shape": "array"}).json()
    assert sorted(r["slug"] for r in answer) == expected
    if len(word) == 2:
        assert expected, f"{word} should occur in the sample cases"
        # Trigrams cannot hold a two-character term: the search box finds nothing, hence the query.
        assert datasette.get("/cases/cases.json", params={"_search": word, "_shape": "array"}).json() == []


def test_metadata_names_title_licence_and_version(built_site, datasette):
    manifest = json.loads((built_site["output"] / "data" / "datasets.json").read_text(encoding="utf-8"))
    metadata = datasette.get("/-/metadata.json").json()
    assert metadata["title"] == "社区金融案例库数据集" and metadata["license"] == "CC BY 4.0"
    assert manifest["version"] in metadata["description"]
    database = datasette.get("/cases.json").json()
    assert {"cases", "banks", "regions", "programs", "tags", "banks_cases", "cases_regions"} <= {
        t["name"] for t in database["tables"]}
    page = html.parse(str(built_site["output"] / "data" / "index.html"))
    assert manifest["version"] in page.xpath("string(//section[@class='cite'])")
    case_page = next((built_site["output"] / "cases").glob("2022-02-24-*/index.html"))
    assert html.parse(str(case_page)).xpath("//section[@class='cite']//a[@href='/data/']")


DATASETS = ("cases.db", "metadata.json", "datasets.json", "index.html", "cases.json", "cases.csv")


def _data(output: Path) -> dict[str, object]:
    """The dataset files of a site: cases.db by content (an updated file and a written one
    hold the same rows in other places), the others byte for byte."""
    from casebook.app.datasets import database_content

    return {name: database_content(output / "data" / name) if name == "cases.db"
            else (output / "data" / name).read_bytes() for name in DATASETS}


def test_datasets_are_deterministic_and_rebuilt_only_when_cases_change(tmp_path, seed_content):
    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    out, index = tmp_path / "out", tmp_path / "index"
    assert build_site(content, out, index, preview=False).database == "written"
    first, stamp = _data(out), (out / "data" / "cases.db").stat().st_mtime_ns
    written = (out / "data" / "cases.db").read_bytes()
    assert build_site(content, out, index, preview=False).database == "kept"
    assert _data(out) == first and (out / "data" / "cases.db").stat().st_mtime_ns == stamp   # not rewritten
    build_site(content, tmp_path / "again", tmp_path / "index-again", preview=False)
    assert (tmp_path / "again" / "data" / "cases.db").read_bytes() == written               # same cases, same bytes

    case = next((content / "cases").glob("2025-01-09-*.md"))
    front, body = case.read_text(encoding="utf-8").split("\n---\n", 1)   # the body only: cases.json stays
    case.write_text(front + "\n---\n" + body.replace("心家园", "心家苑", 1), encoding="utf-8")
    assert build_site(content, out, index, preview=False).database == "updated"          # a copy, changed
    edited = _data(out)
    assert edited["cases.json"] == first["cases.json"] and edited["cases.db"] != first["cases.db"]
    assert json.loads(edited["datasets.json"])["version"] != json.loads(first["datasets.json"])["version"]
    build_site(content, tmp_path / "full", tmp_path / "index-full", preview=False)
    assert _data(tmp_path / "full") == edited                                             # incremental == full
    with sqlite3.connect(out / "data" / "cases.db") as db:
        assert db.execute("select count(*) from cases where text like '%心家苑%'").fetchone() == (1,)
        for word in ("心家苑", "心家园"):   # the updated full-text index finds what a scan finds
            scan = db.execute("select count(*) from cases where title || summary || text like ?", (f"%{word}%",))
            assert db.execute("select count(*) from cases_fts where cases_fts match ?", (f'"{word}"',)).fetchone() \
                == scan.fetchone(), word


def _case(slug: str, title: str, banks: list[str] | None = None, city: str = "成都市", text: str = "") -> DatasetCase:
    row = {"slug": slug, "title": title, "date": "2024-05-01", "category": "网点进社区",
           "banks": ["成都农商银行"] if banks is None else banks, "programs": [], "tags": ["金融知识"],
           "province": "四川省", "city": city, "url": f"/cases/{slug}/"}
    return DatasetCase(row, text or f"{title}的正文。")


def _write(path: Path, cases: list[DatasetCase], facts: Lookups | None = None, memo: Path | None = None) -> str:
    facts = facts or Lookups()
    return write_database(path, cases, release_of(cases, facts), facts, {"name": "案例库"}, memo=memo)


def test_an_updated_database_holds_what_a_written_one_holds(tmp_path):
    """Each kind of change applied to the previous file (a text, a removal, an addition, a
    new bank that renumbers the lookup table, a fact of the data files) gives the content a
    file written from scratch has, full-text index included."""
    cases = [_case("a", "第一个"), _case("b", "第二个"), _case("c", "第三个", city="绵阳市")]
    steps = [
        [_case("a", "第一个", text="改过的正文：心家苑。"), *cases[1:]],
        [_case("a", "第一个", text="改过的正文：心家苑。"), cases[2]],
        [_case("0", "新增的", banks=["中国工商银行"]), _case("a", "第一个", text="改过的正文：心家苑。"), cases[2]],
    ]
    # With the memo of the cases' digests (only the changed cases' rows are made), without it
    # (every row compared), and with a memo of another file (ignored).
    for memo in (tmp_path / "memo.json", None, tmp_path / "other-memo.json"):
        path = tmp_path / f"cases-{memo.name if memo else 'none'}.db"
        assert _write(path, cases, memo=memo) == "written"
        if memo and memo.name.startswith("other"):
            _write(tmp_path / "other.db", steps[0], memo=memo)
        for number, step in enumerate(steps):
            assert _write(path, step, memo=memo) == "updated", number
            fresh = tmp_path / f"fresh-{number}.db"
            fresh.unlink(missing_ok=True)
            assert _write(fresh, step) == "written"
            assert database_content(path) == database_content(fresh), (memo, number)
    path = tmp_path / "cases-memo.json.db"
    facts = Lookups(banks={"成都农商银行": {"type": "农村商业银行", "url": "/banks/x/"}})
    assert _write(path, steps[-1], facts) == "written"   # a new column of a lookup table: another shape
    assert _write(tmp_path / "facts.db", steps[-1], facts) == "written"
    assert database_content(path) == database_content(tmp_path / "facts.db")
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from cases_fts where cases_fts match '\"心家苑\"'").fetchone() == (1,)
        assert db.execute("select count(*) from cases_fts where cases_fts match '\"第二个\"'").fetchone() == (0,)
        assert db.execute("select name from banks order by id").fetchall() == [("中国工商银行",), ("成都农商银行",)]


@pytest.mark.parametrize("damage", ["truncate", "drop index idx_cases_year", "drop table cases_fts"])
def test_a_damaged_previous_database_is_written_anew(tmp_path, damage):
    """A previous cases.db that cannot be updated (cut short, or of another schema: an index
    or the full-text table missing) does not fail the build nor stay wrong: the new file is
    written from scratch and holds what a fresh file holds."""
    cases = [_case("a", "第一个"), _case("b", "第二个"), _case("c", "第三个")]
    path, memo = tmp_path / "cases.db", tmp_path / "memo.json"
    _write(path, cases, memo=memo)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        with sqlite3.connect(path) as db:
            db.execute(damage)
        db.close()
    edited = [_case("a", "第一个", text="改过的正文。"), *cases[1:]]
    assert _write(path, edited, memo=memo) == "written"
    assert _write(tmp_path / "fresh.db", edited) == "written"
    assert database_content(path) == database_content(tmp_path / "fresh.db")


def test_the_content_comparison_finds_a_changed_row(tmp_path):
    """`database_content` fails two files that differ in one row of any table, and one whose
    full-text index no longer matches its rows."""
    cases = [_case("a", "第一个"), _case("b", "第二个")]
    path = tmp_path / "cases.db"
    _write(path, cases)
    same = database_content(path)
    for table, change in [("cases", "update cases set summary = '改了' where slug = 'b'"),
                          ("banks", "update banks set name = '别的银行'"),
                          ("cases_tags", "delete from cases_tags where cases_id = 'a'"),
                          ("_meta", "update _meta set value = '0' where key = 'cases'")]:
        copy = tmp_path / f"changed-{table}.db"
        shutil.copyfile(path, copy)
        with sqlite3.connect(copy) as db:
            db.execute(change)
        db.close()
        assert database_content(copy)[table] != same[table], table
        assert database_content(copy) != same, table
    stale = tmp_path / "stale.db"   # a row changed behind the full-text index's back
    shutil.copyfile(path, stale)
    with sqlite3.connect(stale) as db:
        db.execute("update cases set text = '完全不同的正文' where slug = 'a'")
    db.close()
    with pytest.raises(sqlite3.DatabaseError):
        database_content(stale)


def test_a_failed_database_write_leaves_the_previous_file_whole(tmp_path):
    """cases.db is built beside the target and renamed over it: a write that fails half way
    (here two cases with one slug, which the primary key refuses), written or updated, leaves
    the old file as it was and no temporary file behind, nor one a killed build left."""
    path = tmp_path / "data" / "cases.db"
    good = [_case("a", "第一个"), _case("b", "第二个")]
    assert _write(path, good) == "written"
    before = path.read_bytes()
    (path.parent / ".cases.db.killed.tmp").write_bytes(b"half a database")   # a build killed while writing
    assert _write(path, good) == "kept"
    assert path.read_bytes() == before and not (path.parent / ".cases.db.killed.tmp").exists()
    broken = [_case("a", "第一个"), _case("a", "重复的")]
    with pytest.raises(sqlite3.IntegrityError):
        _write(path, broken)    # an update of the previous file
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["cases.db"]
    path.with_name("other.db").write_bytes(before)
    with pytest.raises(sqlite3.IntegrityError):
        _write(path.with_name("new.db"), broken)    # written from scratch
    assert sorted(p.name for p in path.parent.iterdir()) == ["cases.db", "other.db"]
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from cases_fts where cases_fts match '\"第二个\"'").fetchone() == (1,)


def test_a_database_that_cannot_be_written_fails_the_build_with_its_path(tmp_path, seed_content):
    """cases.db is written on a thread while the pages render; when it cannot be written (here
    a folder of that name is in the way) the build fails with a Casebook error naming the
    file and what to do, not a traceback from the thread, and leaves no temporary file."""
    from casebook.app.build import build_site
    from casebook.errors import CasebookError

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    out = tmp_path / "out"
    build_site(content, out, None, preview=False)
    database = out / "data" / "cases.db"
    database.unlink()
    (database / "kept").mkdir(parents=True)
    case = next((content / "cases").glob("2025-01-09-*.md"))
    case.write_text(case.read_text(encoding="utf-8").replace("心家园", "心家苑", 1), encoding="utf-8")
    with pytest.raises(CasebookError) as caught:
        build_site(content, out, None, preview=False)
    assert str(caught.value).startswith(f"{database}: cannot write the researchers' database")
    assert "remove what is in the way" in str(caught.value)
    assert (database / "kept").is_dir() and not list(database.parent.glob(".cases.db.*"))


def test_a_fact_from_the_data_files_changes_version_and_database(tmp_path):
    """A bank's type comes from banks.yaml, not from the case: editing it must still give a
    new version and a new cases.db, or an incremental build would keep the old one."""
    row = {"slug": "a", "title": "网点进社区", "date": "2024-05-01", "category": "网点进社区", "banks": ["成都农商银行"],
           "province": "四川省", "url": "/cases/a/"}
    cases, path, site = [DatasetCase(row, "正文")], tmp_path / "cases.db", {"name": "案例库"}
    versions = []
    for kind in ("农村商业银行", "城市商业银行"):
        facts = Lookups(banks={"成都农商银行": {"type": kind, "url": "/banks/cheng-du-nong-shang-yin-hang/"}})
        release = release_of(cases, facts)
        assert write_database(path, cases, release, facts, site) in ("written", "updated")
        versions.append(release.version)
        with sqlite3.connect(path) as db:
            assert db.execute("select type from banks").fetchall() == [(kind,)]
    assert versions[0] != versions[1] and versions[0][:11] == versions[1][:11] == "2024.05.01-"


def test_a_build_that_empties_the_output_folder_still_writes_the_datasets(tmp_path, seed_content):
    """A build without a record of the last one has Pelican empty the output folder before
    the generators run: cases.db, written on its thread from the end of the site generator's
    context, is written again though it was current before the emptying."""
    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    out = tmp_path / "out"
    build_site(content, out, tmp_path / "index-1", preview=False)
    first = _data(out)
    build_site(content, out, tmp_path / "index-2", preview=False)      # same cases, no record: emptied
    assert _data(out) == first
    case = next((content / "cases").glob("2025-01-09-*.md"))
    case.write_text(case.read_text(encoding="utf-8").replace("心家园", "心家苑"), encoding="utf-8")
    build_site(content, out, tmp_path / "index-3", preview=False)      # changed cases, no record: emptied
    build_site(content, tmp_path / "full", tmp_path / "index-full", preview=False)
    assert _data(out) == _data(tmp_path / "full") != first
