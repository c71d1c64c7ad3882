"""An undated draft (a report that states no date, ingested without inventing one) goes
through the real Pelican build: rendered under drafts/ with no date, left out of a public
build, and the site's lists still build."""

from __future__ import annotations

import pytest

from casebook.data import load_data
from tests.conftest import SEEDS_RAW

pytestmark = pytest.mark.shared


def test_undated_draft_builds(tmp_path, settings):
    from casebook.app.build import build_site
    from casebook.check import check_paths
    from scraper.ingest import ingest

    body = (SEEDS_RAW / "003_e311d38c8422fe87.txt").read_text(encoding="utf-8")
    undated = tmp_path / "undated.txt"
    undated.write_text(body.replace("发表于 2025-01-09 09:40:29 股吧网页版\n", "").replace("2024年末", "去年末")
                       .replace("2022年", "前年"), encoding="utf-8")
    content = tmp_path / "content"
    rows = ingest([str(undated), str(SEEDS_RAW / "000_93da2ac478faec21.txt")], settings, out_dir=content / "cases")
    assert [r.status for r in rows] == ["written", "written"]
    draft = next((content / "cases").glob("undated-*.md"))
    assert "date: null" in draft.read_text(encoding="utf-8")
    assert not [p for p in check_paths([content / "cases"], load_data()) if p.severity == "error"]

    preview = build_site(content, tmp_path / "out", tmp_path / "index", preview=True)
    assert preview.failed == [] and preview.drafts == 1
    page = next((tmp_path / "out" / "drafts").glob("*/index.html")).read_text(encoding="utf-8")
    assert "日期待定" in page and "上海农商银行" in page
    public = build_site(content, tmp_path / "pub", tmp_path / "index2", preview=False)
    assert not list((tmp_path / "pub").rglob("drafts/*/index.html"))
    assert public.articles == 1
