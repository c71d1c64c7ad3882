"""The case-library parts of the site that Pelican has no notion of.

- browse pages for banks (grouped by bank type), regions (province, then city) and
  programmes, each with counts and pagination; the category, tag and year pages with
  Pelican's templates and page variables, written here (`take_taxonomy_pages`);
- related cases (same bank, region or category) and previous/next on every case;
- the datasets `data/cases.json` and `data/cases.csv`, with every front-matter field;
- a map of the provinces as an SVG drawn at build time (no tiles, no CDN);
- counts for the home page.
"""

from __future__ import annotations

import csv
import hashlib
import heapq
import io
import itertools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from html import escape
from typing import Any

from markupsafe import Markup
from pelican import signals
from pelican.contents import Article, Content
from pelican.generators import ArticlesGenerator, Generator
from pelican.settings import DEFAULT_CONFIG
from pelican.utils import slugify

from casebook.app.session import BuildSession, read_cache, session_of, write_cache
from casebook.data import Data
from casebook.model import DATASET_FIELDS
from casebook.safety import csv_cell, safe_url, strip_invisible
from scraper.entities import bank_type


@dataclass
class FacetValue:
    name: str
    slug: str
    url: str
    articles: list = field(default_factory=list)
    group: str = ""
    children: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.articles)


SLUG_TABLE = "slugs.json"   # shipped with the data files (tools/build_slugs.py)
RELATED = "related.json"     # kept in the session's cache folder


def transliterate(name: str, *, tones: bool = False, regex_subs: list | None = None) -> str:
    """Pinyin slug of a name, with Pelican's default slug rules unless others are given:
    成都农商银行 -> cheng-du-nong-shang-yin-hang."""
    from pypinyin import Style, lazy_pinyin  # its dictionaries load slowly: only for names not in a table

    syllables = lazy_pinyin(name, style=Style.TONE3, neutral_tone_with_five=True) if tones else lazy_pinyin(name)
    return slugify("-".join(syllables), regex_subs=DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"]
                   if regex_subs is None else regex_subs)


def ascii_slug(name: str, settings: dict, *, tones: bool = False, session: BuildSession | None = None) -> str:
    """The ASCII slug of a name: from the data folder's shipped table when it has the name,
    else transliterated (and remembered in the session's slug memo)."""
    regex_subs = settings.get("SLUG_REGEX_SUBSTITUTIONS", [])
    if regex_subs != DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"]:   # the site's own rules: nothing reusable
        return transliterate(name, tones=tones, regex_subs=regex_subs)
    if session is None:
        return transliterate(name, tones=tones)
    if not tones and name in session.shipped_slugs.get("names", {}):
        return session.shipped_slugs["names"][name]
    memo, key = session.slugs, f"{int(tones)}:{name}"
    if key not in memo.slugs:
        memo.slugs[key], memo.changed = transliterate(name, tones=tones), True
    return memo.slugs[key]


def compute_region_slugs(data: Data) -> dict[str, str]:
    """Slugs of every division name, unique over the whole gazetteer (so they never change as
    cases arrive): toneless pinyin, or pinyin with tone numbers where two names would share it
    (山西省 shan1-xi1-sheng3, 陕西省 shan3-xi1-sheng3)."""
    plain: dict[str, list[str]] = defaultdict(list)
    for name in sorted({r.name for r in data.gazetteer.regions.values()}):
        plain[transliterate(name)].append(name)
    return {name: (slug if len(group) == 1 else transliterate(name, tones=True))
            for slug, group in plain.items() for name in group}


class CasebookSiteGenerator(Generator):
    """Browse pages, year pages, related cases and datasets: a Pelican generator (its own
    Jinja environment over the site's theme, from Pelican's Generator)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session_of(self.settings)
        self.data = self.session.data
        self._regions: dict[str, str] | None = None

    def _slug(self, name: str) -> str:
        return ascii_slug(name, self.settings, session=self.session)

    def _region_slug(self, name: str) -> str:
        if self._regions is None:
            self._regions = self.session.shipped_slugs.get("regions") or compute_region_slugs(self.data)
        return self._regions.get(name) or self._slug(name)

    # --- context ------------------------------------------------------------------------

    def _facet(self, prefix: str, names_of, slug_of=None) -> dict[str, FacetValue]:
        values: dict[str, FacetValue] = {}
        taken: set[str] = set()
        slug_of = slug_of or self._slug
        names = sorted({n for article in self.context["articles"] for n in names_of(article) if n})
        for name in list(names):
            if not slug_of(name):   # `check` reports it; a page at prefix// would replace the index
                names.remove(name)
                continue
            slug, number = slug_of(name), 2
            while slug in taken:   # two names, one transliteration: the later one gets a number
                slug, number = f"{slug_of(name)}-{number}", number + 1
            taken.add(slug)
            values[name] = FacetValue(name, slug, f"{prefix}/{slug}/")
        for article in self.context["articles"]:
            for name in names_of(article):
                if name in values:
                    values[name].articles.append(article)
        return dict(sorted(values.items(), key=lambda kv: (-kv[1].count, kv[0])))

    def generate_context(self) -> None:
        articles = self.context["articles"]
        for item in [*articles, *self.context.get("drafts", [])]:
            freeze_for_templates(item)
        meta = lambda a, k: a.metadata.get(k)  # noqa: E731
        banks = self._facet("banks", lambda a: meta(a, "banks") or [])
        types = self.data.banks["types"]
        for value in banks.values():
            value.group = types.get(bank_type(value.name, self.data), "其他银行")
        bank_groups: dict[str, list[FacetValue]] = defaultdict(list)
        for value in banks.values():
            bank_groups[value.group].append(value)
        ordered_groups = [(label, bank_groups[label]) for label in types.values() if label in bank_groups]
        ordered_groups += [(g, v) for g, v in bank_groups.items() if g not in types.values()]

        provinces = self._facet("regions", lambda a: [meta(a, "province")],
                                self._region_slug)
        for province in provinces.values():
            cities: dict[str, FacetValue] = {}
            for article in province.articles:
                city = meta(article, "city")
                if city and city != province.name:
                    if city not in cities:
                        slug = self._region_slug(city)
                        if not slug:
                            continue
                        cities[city] = FacetValue(city, slug, f"{province.url}{slug}/")
                    cities[city].articles.append(article)
            province.children = sorted(cities.values(), key=lambda v: (-v.count, v.name))
        programs = self._facet("programs", lambda a: meta(a, "programs") or [])
        self.session.slugs.save()
        self._related_all(articles)
        for newer, older in itertools.pairwise(articles):
            older.next_case, newer.prev_case = newer, older
        years: dict[str, int] = defaultdict(int)
        for article in articles:
            years[str(article.date.year)] += 1
        self.session.facets = self.context["casebook"] = {
            "banks": banks, "bank_groups": ordered_groups, "provinces": provinces, "programs": programs,
            "years": sorted(years.items(), reverse=True), "map_svg": province_map(provinces, self.data),
            "total": len(articles),
        }
        from plugins.casebook_site.research import ResearchDatasets
        self.research = ResearchDatasets(self, self._dataset_row)

    def _related_all(self, articles: list) -> None:
        """Up to five related cases for each case (see `related_numbers`). They depend only on
        each case's banks, province and category and on the order of the cases, so a build
        whose cases have the same ones as the last build's reuses its answer
        (related.json in the session's cache folder): an edit of a case's text does not recompute 10,000 lists."""
        key = hashlib.blake2b(json.dumps(
            [[a.metadata.get("banks") or [], a.metadata.get("province") or "", str(a.category)] for a in articles],
            ensure_ascii=False).encode(), digest_size=16).hexdigest()
        cache = self.session.cache / RELATED if self.session.cache else None
        kept = read_cache(cache, key)
        numbers: list[list[int]] = kept if isinstance(kept, list) else related_numbers(articles)
        if kept is None:
            write_cache(cache, key, numbers)
        for article, related in zip(articles, numbers, strict=True):
            article.related_cases = [articles[other] for other in related]

    # --- output -------------------------------------------------------------------------

    def generate_output(self, writer) -> None:
        site = self.context["casebook"]
        self._write_facet_pages(writer, "banks", "银行", site["banks"])
        self._write_facet_pages(writer, "programs", "项目品牌", site["programs"])
        self._write_facet_pages(writer, "regions", "地区", site["provinces"])
        for province in site["provinces"].values():
            for city in province.children:
                self._write_list(writer, city, f"{province.name} · {city.name}", "地区", parent=province)
        self._write_year_pages(writer)
        self._write_taxonomy_pages(writer)
        self._write_datasets()
        self.research.finish(writer)
        self.session.database = self.research.database

    def _write_year_pages(self, writer) -> None:
        """A page per year, as Pelican's own year archives would be (same template and page
        variables). Pelican's are off (YEAR_ARCHIVE_SAVE_AS is empty): they pick each year's
        cases by scanning every case against a list of that year's, seconds at 10,000 cases."""
        url_pattern, save_as_pattern = self.settings.get("CASEBOOK_YEAR_URL"), self.settings.get("CASEBOOK_YEAR_SAVE_AS")
        if not save_as_pattern:
            return
        template = self.get_template("period_archives")
        articles = self.context["articles"]
        for year, group in itertools.groupby(self.context.get("dates") or [], key=lambda a: a.date.year):
            dates = list(group)
            members = {id(a) for a in dates}
            context = {**self.context, "period": (year,), "period_num": (year,)}
            writer.write_file(save_as_pattern.format(year=year), template, context,
                              relative_urls=self.settings.get("RELATIVE_URLS", False),
                              articles=[a for a in articles if id(a) in members], dates=dates,
                              template_name="period_archives", blog=True, url=url_pattern.format(year=year),
                              all_articles=articles)

    def _write_taxonomy_pages(self, writer) -> None:
        """The tag and category pages and the category feeds, with exactly the calls Pelican's
        ArticlesGenerator would make (see `take_taxonomy_pages`), each page's `dates` picked
        by identity in one pass instead of a list scan per case."""
        dates = self.context.get("dates") or []
        relative = self.settings.get("RELATIVE_URLS", False)
        for kind, pairs in (("tag", self.context.get("tags") or []), ("category", self.context.get("categories") or [])):
            template = self.get_template(kind)
            for value, articles in pairs:
                self._write_taxonomy_feeds(writer, kind, value, articles)
                if not value.slug:   # Pelican skips these too (its page would replace the list's index)
                    continue
                members = {id(a) for a in articles}
                writer.write_file(value.save_as, template, self.context, relative_urls=relative, url=value.url,
                                  articles=articles, dates=[a for a in dates if id(a) in members],
                                  template_name=kind, blog=True, page_name=value.page_name,
                                  all_articles=self.context["articles"], **{kind: value})

    def _write_taxonomy_feeds(self, writer, kind: str, value, articles: list) -> None:
        prefix = kind.upper()
        for feed_type, name in (("atom", f"{prefix}_FEED_ATOM"), ("rss", f"{prefix}_FEED_RSS")):
            pattern = self.settings.get(name)
            if pattern:
                writer.write_feed(articles, self.context, str(pattern).format(slug=value.slug),
                                  self.settings.get(f"{name}_URL", str(pattern)).format(slug=value.slug),
                                  feed_title=value.name, feed_type=feed_type)

    def _write_facet_pages(self, writer, kind: str, label: str, values: dict) -> None:
        writer.write_file(f"{kind}/index.html", self.get_template("facets"), self.context,
                          relative_urls=self.settings.get("RELATIVE_URLS", False), facet_kind=kind,
                          facet_label=label, facet_values=list(values.values()), url=f"{kind}/")
        for value in values.values():
            self._write_list(writer, value, value.name, label)

    def _write_list(self, writer, value: FacetValue, heading: str, label: str, parent=None) -> None:
        writer.write_file(value.url + "index.html", self.get_template("facet"), self.context,
                          relative_urls=self.settings.get("RELATIVE_URLS", False),
                          paginated={"articles": value.articles}, template_name="facet",
                          url=value.url, facet=value, facet_heading=heading, facet_label=label, facet_parent=parent)

    def _write_datasets(self) -> None:
        """data/cases.json and data/cases.csv: every published case's fields, for researchers.
        They derive from the cases' metadata alone, so the session's render record keeps last
        build's files when no metadata changed (`write_derived`)."""
        def table() -> list[dict]:   # the rows the researchers' datasets were given (research.py)
            return [case.row for case in self.research.cases]

        def as_json() -> str:
            # One case per line (readable, diffable) with the C encoder (indent= would not use it).
            return "[\n" + ",\n".join(json.dumps(row, ensure_ascii=False, default=str) for row in table()) + "\n]\n"

        def as_csv() -> str:
            buffer = io.StringIO()
            out = csv.DictWriter(buffer, fieldnames=[*DATASET_FIELDS, "url"], extrasaction="ignore")
            out.writeheader()
            for row in table():
                # Every cell neutralised: a title starting "=cmd|..." is text, not a formula.
                out.writerow({k: csv_cell(json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v)
                              for k, v in row.items()})
            return "\ufeff" + buffer.getvalue()     # a BOM, so that Excel reads the CSV as UTF-8

        for name, produce in (("data/cases.json", as_json), ("data/cases.csv", as_csv)):
            self.session.render.write_derived(name, self.context, self.settings, produce)

    @staticmethod
    def _dataset_row(article: Article) -> dict:
        meta = article.metadata
        row = {name: meta.get(name) for name in DATASET_FIELDS}
        row.update({"title": article.title, "slug": article.slug, "date": meta.get("date_iso"),
                    "category": article.category.name, "tags": [t.name for t in getattr(article, "tags", [])],
                    "authors": meta.get("authors_list") or [], "url": "/" + article.url,
                    "status": meta.get("status", "published")})
        return _safe_row(row)


URL_FIELDS = ("source_url", "cover", "url")


def _safe_value(value: object) -> object:
    if isinstance(value, str):
        return strip_invisible(value)
    if isinstance(value, list):
        return [_safe_value(v) for v in value]
    if isinstance(value, dict):
        return {k: (safe_url(v) if k == "url" else _safe_value(v)) for k, v in value.items()}
    return value


def _safe_row(row: dict) -> dict:
    """A dataset row under the site's output rule (the reader already applied it: this is
    the rule at the door): URLs http(s), mailto or site-relative, text without invisible
    characters."""
    row = {k: _safe_value(v) for k, v in row.items()}
    for name in URL_FIELDS:
        if row.get(name) is not None:
            row[name] = safe_url(row[name])
    row["images"] = [u for u in (safe_url(v) for v in row.get("images") or []) if u]
    return row


def related_numbers(articles: list) -> list[list[int]]:
    """For each case, the positions of up to five related cases: shared banks count 3, the
    same province 2, the same category 1. Candidates come from inverted lists, so the work
    grows with the overlaps, not with the square of the collection."""
    by_bank: dict[str, list[int]] = defaultdict(list)
    by_province: dict[str, list[int]] = defaultdict(list)
    by_category: dict[str, list[int]] = defaultdict(list)
    for number, article in enumerate(articles):
        for bank in article.metadata.get("banks") or []:
            by_bank[bank].append(number)
        if article.metadata.get("province"):
            by_province[article.metadata["province"]].append(number)
        by_category[str(article.category)].append(number)
    out: list[list[int]] = []
    for number, article in enumerate(articles):
        scores: dict[int, int] = defaultdict(int)
        for bank in article.metadata.get("banks") or []:
            for other in by_bank[bank][:400]:
                scores[other] += 3
        for other in by_province.get(article.metadata.get("province") or "", [])[:400]:
            scores[other] += 2
        if len(scores) < 5:
            for other in by_category[str(article.category)][:50]:
                scores[other] += 1
        scores.pop(number, None)
        # Articles are newest first, so the lower number wins a tie.
        out.append(heapq.nsmallest(5, scores, key=lambda other: (-scores[other], other)))
    return out


def striptags(html: str) -> str:
    return Markup(html).striptags()


def province_map(provinces: dict[str, FacetValue], data) -> str:
    """Every province as a dot at its capital's coordinates, sized and labelled by its case
    count: an equirectangular projection of China drawn at build time."""
    width, height = 640, 480
    lon0, lon1, lat0, lat1 = 73.0, 135.5, 17.5, 54.0

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return ((lon - lon0) / (lon1 - lon0) * width, (lat1 - lat) / (lat1 - lat0) * height)

    counts = {name: value.count for name, value in provinces.items()}
    top = max(counts.values(), default=1)
    # A group, not an image: the provinces are links, and an image's content is presentational
    # (axe's nested-interactive, WCAG 4.1.2: screen readers would never reach them).
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="group" '
             f'aria-labelledby="map-title" aria-describedby="map-desc" class="province-map">',
             '<title id="map-title">各省案例分布图</title>',
             f'<desc id="map-desc">{escape("；".join(f"{n} {c} 个案例" for n, c in counts.items()) or "暂无案例")}</desc>',
             f'<rect width="{width}" height="{height}" class="map-bg" rx="12"/>']
    for province in data.gazetteer.provinces():
        if province.lon is None or province.lat is None:
            continue
        x, y = xy(province.lon, province.lat)
        count = counts.get(province.name, 0)
        label = escape(province.short)
        if count:
            radius = 6 + 18 * (count / top) ** 0.5
            value = provinces[province.name]
            parts.append(f'<a href="/{value.url}"><circle cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" class="map-dot">'
                         f'<title>{escape(province.name)}：{count} 个案例</title></circle>'
                         f'<text x="{x:.1f}" y="{y - radius - 3:.1f}" class="map-label">{label} {count}</text></a>')
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" class="map-empty"><title>{escape(province.name)}'
                         f'：暂无案例</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


def freeze_for_templates(article: Content) -> None:
    """What templates ask of a case many times, computed once: its summary as plain text
    (`summary_text`), which lists and meta tags show. (Its URL and file name are fixed by
    the reader's `url` and `save_as` metadata.)"""
    article.summary_text = striptags(article.summary or "")


def get_generators(_pelican: object) -> type:
    return CasebookSiteGenerator


def take_taxonomy_pages(generator: ArticlesGenerator) -> None:
    """The tag and category pages (and their feeds) are written by CasebookSiteGenerator, not
    by Pelican's ArticlesGenerator: its loops pick each page's cases by testing every case
    for membership in that page's list, cases × list length (seconds at 10,000 cases). By
    this signal the context already holds the tags and categories; the generator's own
    copies are emptied so that its loops write nothing."""
    generator.tags = defaultdict(list)
    generator.categories = []


def register() -> None:
    from plugins.casebook_site.guard import register_guards

    register_guards(signals)
    signals.get_generators.connect(get_generators)
    signals.article_generator_finalized.connect(take_taxonomy_pages)
