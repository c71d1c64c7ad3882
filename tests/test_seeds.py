"""The five seed reports against what a careful editor would publish (../shared/seeds/expected),
field by field."""

from __future__ import annotations

import re

import pytest
import yaml

from casebook.data import load_data
from casebook.model import SLUG_RE
from scraper.pipeline import extract_input
from tests.conftest import SEEDS_EXPECTED, SEEDS_RAW

pytestmark = pytest.mark.shared

EXPECTED = sorted(SEEDS_EXPECTED.glob("*.yaml")) if SEEDS_EXPECTED.exists() else []


def _cases(name: str, settings):
    raw = SEEDS_RAW / (name + ".txt")
    result = extract_input(str(raw), settings)
    assert result.error is None, result.error
    return result.cases


@pytest.mark.parametrize("expected_file", EXPECTED, ids=lambda p: p.stem)
def test_seed_matches_expected(expected_file, settings):
    spec = yaml.safe_load(expected_file.read_text(encoding="utf-8"))["articles"]
    cases = _cases(expected_file.stem, settings)
    assert len(cases) == len(spec), [c.title for c in cases]
    for case, want in zip(cases, spec, strict=True):
        assert case.relevant is want["relevant"], (case.title, case.reason)
        if not want["relevant"]:
            assert case.title == want["title"]
            assert case.reason
            continue
        if want["title"] is None:
            assert case.title, "a working title must be derived"
            assert case.status == "draft"
            assert any(r.startswith("title:") for r in case.review)
        else:
            assert case.title == want["title"]
            assert case.status == "published"
        expected_date = str(want["date"])
        assert case.date is not None and case.date.startswith(expected_date), case.date
        if len(expected_date) < 10:
            assert case.status == "draft" and any(r.startswith("date:") for r in case.review)
        if "date_note" in want:
            assert any("inferred" in r for r in case.review), case.review
        if "T" in (case.date or ""):
            assert case.date.endswith("+08:00")
        for field in ("source", "via", "category"):
            if field in want:
                assert getattr(case, field) == want[field], field
        if "authors" in want:
            assert case.authors == want["authors"]
        assert case.banks == want["banks"]
        region = want["region"]
        assert case.province == region.get("province")
        assert case.city == region.get("city")
        assert case.district == region.get("district")
        if "programs" in want:
            assert case.programs == want["programs"]
        assert set(want["tags_include"]) <= set(case.tags), case.tags
        if "cover_image" in want:
            assert case.cover == want["cover_image"]
        for image in want.get("images", []):
            assert image in case.images
        assert not any("workers.dev" in image for image in case.images)
        for heading in want.get("headings", []):
            assert heading in case.headings, case.headings
            assert re.search(rf"^#+ {re.escape(heading)}$", case.body, re.MULTILINE)
        for snippet in want.get("body_contains", []):
            assert snippet in case.body, snippet
        for snippet in want.get("body_excludes", []):
            assert snippet not in case.body, snippet
        for figure in want.get("key_figures_include", []):
            assert any(figure in f for f in case.figures), (figure, case.figures)


def test_every_seed_ingests_to_valid_unique_slugs(seed_content):
    from casebook.check import check_paths

    files = sorted((seed_content / "cases").glob("*.md"))
    assert len(files) == 5
    slugs = [f.stem for f in files]
    assert len(set(slugs)) == 5 and all(SLUG_RE.match(s) for s in slugs)
    problems = [p for p in check_paths([seed_content / "cases"], load_data()) if p.severity == "error"]
    assert problems == []
