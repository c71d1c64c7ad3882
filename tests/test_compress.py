"""The build's precompressed copies (casebook/app/compress.py): complete, exact,
deterministic, incremental, and never made from what the build did not write."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from casebook.app.compress import COMPRESSED_SUFFIXES, gzip_bytes, precompress

PAGE = ("<!doctype html><html lang=\"zh-CN\"><body>" + "社区金融服务进社区，" * 80 + "</body></html>").encode()


def _site(root: Path) -> Path:
    files = {"index.html": PAGE, "cases/a/index.html": PAGE + b"a", "theme/css/style.css": b"body{margin:0}\n" * 40,
             "theme/js/search.js": b"const x = 1;\n" * 60, "feeds/all.atom.xml": b"<feed>" + b"<entry/>" * 90 + b"</feed>",
             "data/cases.json": b"[" + b'{"a":1},' * 90 + b"{}]", "data/cases.csv": "标题,银行\n".encode() * 90,
             "images/photo.png": b"\x89PNG" + bytes(range(256)) * 4, "tiny.txt": b"x"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _copies(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.gz")}


def test_every_text_file_gets_an_exact_deterministic_copy(tmp_path):
    site = _site(tmp_path)
    report = precompress(site)
    assert _copies(site) == {"index.html.gz", "cases/a/index.html.gz", "theme/css/style.css.gz",
                             "theme/js/search.js.gz", "feeds/all.atom.xml.gz", "data/cases.json.gz",
                             "data/cases.csv.gz"}
    assert report.written == 7 and report.bytes_out < report.bytes_in
    for name in _copies(site):
        source, packed = site / name[:-3], (site / name).read_bytes()
        assert gzip.decompress(packed) == source.read_bytes()
        assert packed == gzip_bytes(source.read_bytes())
        # gzip header: no FNAME flag, MTIME 0, so two builds give the same bytes.
        assert packed[3] & 0x08 == 0 and packed[4:8] == b"\0\0\0\0"
        assert (site / name).stat().st_mtime_ns == source.stat().st_mtime_ns   # one Last-Modified for both
    assert not list(site.rglob(".*.tmp"))


def test_images_and_files_too_small_to_gain_get_none(tmp_path):
    site = _site(tmp_path)
    precompress(site)
    assert ".png" not in COMPRESSED_SUFFIXES and not (site / "images" / "photo.png.gz").exists()
    assert not (site / "tiny.txt.gz").exists()


def test_a_second_run_writes_nothing_and_a_changed_page_alone_is_redone(tmp_path):
    site = _site(tmp_path)
    precompress(site)
    inodes = {name: (site / name).stat().st_ino for name in _copies(site)}
    again = precompress(site)
    assert (again.written, again.kept, again.removed) == (0, 7, 0)
    (site / "cases" / "a" / "index.html").write_bytes(PAGE + b"changed")
    changed = precompress(site)
    assert (changed.written, changed.kept) == (1, 6)
    assert gzip.decompress((site / "cases/a/index.html.gz").read_bytes()) == PAGE + b"changed"
    assert all((site / n).stat().st_ino == i for n, i in inodes.items() if n != "cases/a/index.html.gz")


def test_a_page_rewritten_with_the_same_bytes_is_not_compressed_again(tmp_path):
    site = _site(tmp_path)
    precompress(site)
    page, copy = site / "index.html", site / "index.html.gz"
    inode = copy.stat().st_ino
    page.write_bytes(page.read_bytes())
    os.utime(page, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    report = precompress(site)
    assert report.written == 0 and copy.stat().st_ino == inode
    assert copy.stat().st_mtime_ns == page.stat().st_mtime_ns


def test_torn_and_foreign_copies_are_replaced(tmp_path):
    site = _site(tmp_path)
    precompress(site)
    page, copy = site / "index.html", site / "index.html.gz"
    stamp = page.stat().st_mtime_ns
    copy.write_bytes(copy.read_bytes()[:40])          # torn by a crash, time kept
    os.utime(copy, ns=(stamp, stamp))
    (site / "data" / "cases.json.gz").write_bytes(gzip.compress(b"\0" * 20_000_000))   # not ours, a bomb
    report = precompress(site)
    assert report.written == 2
    assert gzip.decompress(copy.read_bytes()) == page.read_bytes()
    assert gzip.decompress((site / "data" / "cases.json.gz").read_bytes()) == (site / "data" / "cases.json").read_bytes()


def test_orphans_go_and_other_gzip_files_stay(tmp_path):
    site = _site(tmp_path)
    precompress(site)
    (site / "cases" / "a" / "index.html").unlink()
    (site / "images" / "archive.tar.gz").write_bytes(gzip.compress(b"an editor's download"))
    (site / "empty-before").mkdir()
    report = precompress(site)
    assert report.removed == 1 and not (site / "cases" / "a" / "index.html.gz").exists()
    # The build removed the page and left its folder to the copy: both go, and the parent
    # left empty with them; the output folder and folders that were empty before stay.
    assert not (site / "cases").exists() and site.is_dir() and (site / "empty-before").is_dir()
    assert (site / "images" / "archive.tar.gz").exists()


def test_dot_folders_and_links_are_not_followed(tmp_path):
    site = _site(tmp_path / "site")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.html").write_bytes(PAGE)
    (site / ".casebook").mkdir()
    (site / ".casebook" / "cache.json").write_bytes(b"[" + b"1," * 500 + b"1]")
    (site / "linked").symlink_to(outside, target_is_directory=True)
    (site / "alias.html").symlink_to(outside / "secret.html")
    precompress(site)
    assert not list((site / ".casebook").glob("*.gz"))
    assert not (site / "alias.html.gz").exists() and not list(outside.glob("*.gz"))


def test_the_build_leaves_a_copy_of_every_page(built_site):
    output = built_site["output"]
    pages = sorted(output.rglob("*.html"))
    assert pages
    for page in pages:
        if any(part.startswith(".") for part in page.relative_to(output).parts):
            continue
        copy = page.with_name(page.name + ".gz")
        assert copy.exists(), page
        assert gzip.decompress(copy.read_bytes()) == page.read_bytes(), page
    assert (output / "data" / "cases.json.gz").exists() and (output / "feeds" / "all.atom.xml.gz").exists()


def test_many_copies_made_in_parallel_are_each_exact(tmp_path):
    from casebook.app.compress import PARALLEL_FROM

    pages = {tmp_path / f"p{n}" / "index.html": PAGE + str(n).encode() * n for n in range(PARALLEL_FROM * 3)}
    for path, data in pages.items():
        path.parent.mkdir()
        path.write_bytes(data)
    report = precompress(tmp_path)
    assert report.written == len(pages) and report.bytes_in == sum(map(len, pages.values()))
    for path, data in pages.items():
        assert path.with_name("index.html.gz").read_bytes() == gzip_bytes(data)


def test_copies_made_beside_the_rendering_are_kept_by_the_final_walk(tmp_path):
    """The build's BackgroundCompressor makes each page's copy as Pelican writes it; the final
    `precompress` finds those current by their stat alone and makes only the others."""
    from casebook.app.compress import BackgroundCompressor

    site = _site(tmp_path / "site")
    pages = ["index.html", "cases/a/index.html"]
    compressor = BackgroundCompressor(site)
    for name in pages:
        compressor.written(str(site / name))
    compressor.close()
    assert _copies(site) == {f"{name}.gz" for name in pages}
    for name in pages:
        copy = site / f"{name}.gz"
        assert gzip.decompress(copy.read_bytes()) == (site / name).read_bytes()
        assert copy.stat().st_mtime_ns == (site / name).stat().st_mtime_ns
        assert copy.read_bytes() == gzip_bytes((site / name).read_bytes())
    report = precompress(site)
    assert report.kept == len(pages) and report.written == 5


def test_a_page_written_again_after_its_copy_gets_a_new_one(tmp_path):
    from casebook.app.compress import BackgroundCompressor

    site = _site(tmp_path / "site")
    page = site / "cases" / "a" / "index.html"
    compressor = BackgroundCompressor(site)
    compressor.written(str(page))
    compressor.close()
    page.write_bytes(PAGE + "改过的页面".encode())
    os.utime(page, ns=(page.stat().st_atime_ns, page.stat().st_mtime_ns + 1_000_000))
    precompress(site)
    assert gzip.decompress((site / "cases/a/index.html.gz").read_bytes()) == page.read_bytes()


def test_the_background_compressor_ignores_what_the_build_did_not_write_there(tmp_path):
    """Outside the output folder, in its dot folders, not a text format, a symbolic link, a
    file gone by the time its turn comes: no copy, no error."""
    from casebook.app.compress import BackgroundCompressor

    site = _site(tmp_path / "site")
    outside = tmp_path / "outside.html"
    outside.write_bytes(PAGE)
    (site / ".casebook").mkdir()
    (site / ".casebook" / "cache.json").write_bytes(PAGE)
    (site / "link.html").symlink_to(outside)
    compressor = BackgroundCompressor(site)
    for path in (outside, site / ".casebook" / "cache.json", site / "images" / "photo.png", site / "link.html",
                 site / "gone.html", site / ".." / "outside.html"):
        compressor.written(str(path))
    compressor.close()
    assert _copies(site) == set() and not (tmp_path / "outside.html.gz").exists()
