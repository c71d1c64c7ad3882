"""What the build takes from Pelican (and its YAML reader) beyond their public API: one test
per name, so that an upgrade past the pinned versions (pyproject.toml) fails here, loudly,
and not in a page that silently differs.

- `RenderCacheWriter.write_file` splits a paginated list into its pages itself (with
  Pelican's public Paginator) so that each page has its own fingerprint: its pages must be
  Pelican's own, file for file.
- `YAMLMetadataReader._parse_yaml_metadata` (pelican-yaml-metadata, private): the case
  reader hands it the checked front matter, so a case file's YAML is parsed once.
- `YAMLMetadataReader._md` (private): the Markdown converter that reader sets up (without
  the `meta` extension); the case reader converts the body with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _settings(output: Path, **extra: object) -> dict:
    from pelican.settings import read_settings

    return read_settings(None, override={"OUTPUT_PATH": str(output), "PATH": str(output.parent),
                                         "DEFAULT_PAGINATION": 2, **extra})


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("relative", [False, True])
def test_the_writer_paginates_as_pelican_does(tmp_path, relative):
    from jinja2 import DictLoader, Environment
    from pelican.writers import Writer

    from casebook.app.session import SESSION_KEY, BuildSession
    from casebook.data import load_data
    from plugins.casebook_render_cache import RenderCacheWriter

    template = Environment(loader=DictLoader({"list.html": (
        "{{ output_file }}|{{ SITEURL }}|{% if articles_page %}{{ articles_page.number }}/"
        "{{ articles_paginator.num_pages }}|{% for a in articles_page.object_list %}{{ a }},{% endfor %}|"
        "{{ articles_previous_page.url if articles_previous_page }}|{{ articles_next_page.url if articles_next_page }}|"
        "{{ dates_page.object_list | join(',') }}{% endif %}|{{ extra }}")})).get_template("list.html")
    items = [f"case-{n}" for n in range(7)]
    outputs = {}
    for name, writer_class in (("pelican", Writer), ("casebook", RenderCacheWriter)):
        out = tmp_path / name
        settings = _settings(out, RELATIVE_URLS=relative)
        settings[SESSION_KEY] = BuildSession(tmp_path, out, None, load_data(), cache=None)
        writer = writer_class(str(out), settings=settings)
        writer.write_file("lists/a/index.html", template, {"SITEURL": ""}, relative_urls=relative,
                          paginated={"articles": items, "dates": list(reversed(items))}, template_name="index",
                          url="lists/a/", extra="x")
        writer.write_file("plain/index.html", template, {"SITEURL": ""}, relative_urls=relative, extra="y")
        outputs[name] = _tree(out)
    assert len(outputs["pelican"]) == 5            # four pages of the list, one plain page
    assert outputs["casebook"] == outputs["pelican"]


def test_the_yaml_reader_parses_checked_front_matter(tmp_path):
    from pelican.plugins.yaml_metadata.yaml_metadata import YAMLMetadataReader
    from pelican.urlwrappers import Category, Tag

    reader = YAMLMetadataReader(_settings(tmp_path / "out"))
    parsed = reader._parse_yaml_metadata({"title": "标题", "category": "网点进社区", "tags": ["适老化", "普惠金融"],
                                          "date": "2022-02-24", "summary": "*摘要*"}, "case.md")
    assert isinstance(parsed["category"], Category) and parsed["category"].name == "网点进社区"
    assert [type(t) for t in parsed["tags"]] == [Tag, Tag] and [t.name for t in parsed["tags"]] == ["适老化", "普惠金融"]
    assert parsed["date"].year == 2022 and parsed["title"] == "标题"
    assert parsed["summary"] == "<p><em>摘要</em></p>"     # a formatted field, through `_md`


def test_the_yaml_reader_keeps_a_markdown_converter_without_meta(tmp_path):
    from markdown import Markdown
    from pelican.plugins.yaml_metadata.yaml_metadata import YAMLMetadataReader

    reader = YAMLMetadataReader(_settings(tmp_path / "out"))
    assert isinstance(reader._md, Markdown)
    # Without the `meta` extension a body's first line "key: value" is text, not metadata.
    assert reader._md.reset().convert("title: 正文\n\n第二段") == "<p>title: 正文</p>\n<p>第二段</p>"
