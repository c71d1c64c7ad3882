"""The site's side of the researchers' datasets (casebook/datasets.py): the published cases
and what the site knows of their banks, regions, programmes and tags, handed over as plain
records; then the dataset page data/index.html, which names the version and how to cite it.

The version changes with any case, so only this page names it: a case page's citation links
here instead, or every edit would render every case page again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from casebook.data import Data
from casebook.datasets import DatasetCase, Lookups, region_paths, write_datasets
from plugins.casebook_search.indexing import article_text  # the index's text of a case: one text for both


def write_research_datasets(generator: Any, writer: Any, row_of: Any) -> dict[str, Any]:
    """cases.db, metadata.json and datasets.json beside cases.json, then the dataset page.
    `generator` is the site generator (its context, settings, data and output folder),
    `row_of` makes a case's cases.json row."""
    context, settings = generator.context, generator.settings
    articles = context["articles"]
    cases = [DatasetCase(row_of(article), article.content or "") for article in articles]
    siteurl = str(settings.get("SITEURL") or "").rstrip("/")
    site = {"name": str(settings.get("SITENAME", "")), "url": siteurl, "home_url": f"{siteurl}/",
            "data_url": f"{siteurl}/data/"}
    described = write_datasets(Path(generator.output_path) / "data", cases, lookups(context, generator.data),
                               site, generator.data.directory, article_text)
    template = settings["_casebook_env"].get_template("dataset.html")
    writer.write_file("data/index.html", template, context, relative_urls=settings.get("RELATIVE_URLS", False),
                      url="data/", dataset=described)
    return described


def lookups(context: dict[str, Any], data: Data) -> Lookups:
    """The site's pages and the data files' facts for every name the cases use."""
    site = context["casebook"]
    found = Lookups(
        banks={name: {"type": value.group, "url": f"/{value.url}"} for name, value in site["banks"].items()},
        programs={name: {"url": f"/{value.url}"} for name, value in site["programs"].items()},
        tags={tag.name: {"url": f"/{tag.url}"} for tag, _ in context.get("tags") or []},
    )
    for article in context["articles"]:
        for path in region_paths(article.metadata):
            if path not in found.regions:
                found.regions[path] = {"code": region_code(data, path), "url": _region_url(site["provinces"], path)}
    return found


def region_code(data: Data, path: tuple[str, ...]) -> str | None:
    """The administrative division code of a region path, when the gazetteer names exactly
    one division there (a district name alone is often shared by several cities)."""
    gazetteer = data.gazetteer
    matches = []
    for region in gazetteer.by_name.get(path[-1], []):
        if region.level != ("province", "city", "district")[len(path) - 1] or gazetteer.province_of(region).name != path[0]:
            continue
        if len(path) == 3 and path[1]:
            city = gazetteer.city_of(region)
            if city is None or city.name != path[1]:
                continue
        matches.append(region.code)
    return matches[0] if len(matches) == 1 else None


def _region_url(provinces: dict[str, Any], path: tuple[str, ...]) -> str | None:
    province = provinces.get(path[0])
    if province is None or len(path) == 3:
        return None   # districts have no page of their own
    if len(path) == 1:
        return f"/{province.url}"
    city = next((child for child in province.children if child.name == path[1]), None)
    return f"/{city.url}" if city else None
