"""The build session: one build's state lives in it and nowhere else."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_LAYER = [*sorted((ROOT / "plugins").rglob("*.py")), *sorted((ROOT / "casebook" / "app").rglob("*.py"))]
# Calls that change a container or an object in place.
MUTATORS = {"append", "extend", "insert", "pop", "popitem", "clear", "update", "add", "discard", "remove",
            "setdefault", "sort", "reverse", "open", "save", "__setitem__"}


def written_globals(source: str) -> list[str]:
    """Module-level names that a function of the module writes to: `global` statements, item
    or attribute assignment, and in-place calls (append, update, ...) on a module-level name
    the function does not itself bind."""
    tree = ast.parse(source)
    module_names = {target.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                    for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(target, ast.Name)}
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        local = {a.arg for a in [*function.args.args, *function.args.kwonlyargs, *function.args.posonlyargs]}
        local |= {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        shared = module_names - local
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                found += [f"{function.name}: global {name}" for name in node.names]
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else \
                node.targets if isinstance(node, ast.Delete) else []
            for target in targets:
                if isinstance(target, ast.Subscript | ast.Attribute) and isinstance(target.value, ast.Name) \
                        and target.value.id in shared:
                    found.append(f"{function.name}: writes {target.value.id}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in shared:
                found.append(f"{function.name}: {node.func.value.id}.{node.func.attr}()")
    return found


def test_the_check_finds_written_module_state():
    """The check below can fail: each kind of write is found."""
    source = ("FAILED: list = []\nSTATS = {}\nMEMO = object()\nCOUNT = 0\n"
              "def a(x):\n    FAILED.append(x)\n"
              "def b():\n    STATS['n'] = 1\n"
              "def c():\n    MEMO.slugs = {}\n"
              "def d():\n    global COUNT\n    COUNT += 1\n"
              "def e(FAILED):\n    FAILED.append(1)\n")    # a parameter of that name is not the global
    assert written_globals(source) == ["a: FAILED.append()", "b: writes STATS", "c: writes MEMO",
                                       "d: global COUNT"]


@pytest.mark.parametrize("path", BUILD_LAYER, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_of_the_build_keeps_state(path):
    assert written_globals(path.read_text(encoding="utf-8")) == []


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".casebook" not in p.relative_to(folder).parts}


def test_two_sites_built_in_one_process_share_nothing(tmp_path, seed_content):
    """Site A, then site B (other cases, a broken file), then A again: each result holds
    only its own site's cases, failures and facets, and A's output is what it was."""
    from casebook.app.build import build_site

    site_a = tmp_path / "a"
    shutil.copytree(seed_content, site_a)
    site_b = tmp_path / "b"
    (site_b / "cases").mkdir(parents=True)
    kept = next((seed_content / "cases").glob("2022-02-24-*.md"))
    shutil.copy(kept, site_b / "cases" / kept.name)
    (site_b / "cases" / "broken.md").write_text("---\ntitle: 坏文件\n---\n正文\n", encoding="utf-8")

    first = build_site(site_a, tmp_path / "out-a", tmp_path / "index-a", preview=False)
    first_tree = _tree(tmp_path / "out-a")
    other = build_site(site_b, tmp_path / "out-b", tmp_path / "index-b", preview=False)
    again = build_site(site_a, tmp_path / "out-a2", tmp_path / "index-a2", preview=False)

    assert first.failed == [] and again.failed == []
    assert other.failed and all("broken.md" in failure for failure in other.failed)
    assert other.articles == 1 and list(other.cases) == [str(site_b / "cases" / kept.name)]
    assert set(other.facets["banks"]) == {"成都农商银行"}
    assert len(first.facets["banks"]) > 1 and first.facets["banks"].keys() == again.facets["banks"].keys()
    assert other.index_report.added == 1 and again.index_report.added == first.index_report.added
    assert _tree(tmp_path / "out-a2") == first_tree


@pytest.mark.slow
def test_plain_pelican_builds_the_site_with_the_plugins(tmp_path, seed_content):
    """`pelican -s pelicanconf.py` (no `casebook build`): the plugins open a session of their own."""
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pelican", str(seed_content), "-s", str(ROOT / "pelicanconf.py"),
                           "-o", str(out), "-e", 'CASEBOOK_INDEX_DIR=""', "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("cases/*/index.html"))) == 4
    assert (out / "banks" / "index.html").is_file() and (out / ".casebook" / "render-fingerprints.json").is_file()
    assert "branches-in-communities" in "".join(p.name for p in (out / "categories").iterdir())


@pytest.mark.slow
def test_a_plain_pelican_run_waits_for_its_index(tmp_path, seed_content):
    """`casebook build` waits for the index itself (after the .gz copies); a plain `pelican`
    run has no caller to do it, so Pelican's `finalized` does: the index is there when it ends
    (an index process left behind would abort with its parent, and leave no generation)."""
    out, index = tmp_path / "out", tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pelican", str(seed_content), "-s", str(ROOT / "pelicanconf.py"),
                           "-o", str(out), "-e", f'CASEBOOK_INDEX_DIR="{index}"', "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (index / "CURRENT").is_file()
    from casebook.settings import load
    from search.backend import open_backend

    assert open_backend(load(), index).health()["cases"] == 4


def test_no_draft_text_anywhere_in_a_public_output_folder(tmp_path, seed_content):
    """The output folder is served as it is: its caches (OUTPUT/.casebook) hold nothing a
    public build leaves out. (Pelican's reader cache, which keeps drafts, lives beside it.)"""
    from casebook.app.build import build_site

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    source = next((content / "cases").glob("2025-01-09-*.md"))
    text = source.read_text(encoding="utf-8").replace("status: published", "status: draft", 1)
    assert "status: draft" in text
    (content / "cases" / "draft.md").write_text(
        text.replace("slug: ", "slug: draft-", 1).replace("\n---\n", "\n---\n草稿机密文字DRAFTMARK。\n", 1), encoding="utf-8")
    result = build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    assert result.failed == [] and (tmp_path / "out" / ".casebook").is_dir()
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            assert b"DRAFTMARK" not in path.read_bytes(), path
    assert any(b"DRAFTMARK" in p.read_bytes() for p in (tmp_path / ".out.casebook-reads").rglob("*")
               if p.is_file())   # the marker was read (the test can fail)


def test_a_case_set_aside_after_it_was_streamed_is_not_indexed(tmp_path, seed_content):
    """The index documents go to the index process as Pelican makes each case; when Pelican
    then sets one aside (here a plugin, through a public signal), the streamed set is void:
    that process is stopped and the final set indexed, so the index holds exactly the site's
    cases."""
    from pelican import signals

    from casebook.app.build import build_site
    from casebook.settings import load
    from search.backend import open_backend
    from search.query import SearchRequest

    content = tmp_path / "content"
    shutil.copytree(seed_content, content)
    set_aside: list[str] = []

    def set_one_aside(generator) -> None:
        article = generator.articles.pop()
        set_aside.append(article.slug)

    signals.article_generator_pretaxonomy.connect(set_one_aside)
    try:
        result = build_site(content, tmp_path / "out", tmp_path / "index", preview=False)
    finally:
        signals.article_generator_pretaxonomy.disconnect(set_one_aside)
    backend = open_backend(load(), tmp_path / "index")
    served = {r["slug"] for r in backend.search(SearchRequest(q="", page_size=100)).results}
    published = {p.parent.name for p in (tmp_path / "out" / "cases").glob("*/index.html")}
    assert set_aside and set_aside[0] not in served
    assert served == published and result.index_report.added == len(published) == 3   # 4 published, 1 set aside
