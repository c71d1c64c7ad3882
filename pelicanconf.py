"""Pelican settings for the Casebook site (development and preview).

`casebook build` reads this file and overrides PATH, OUTPUT_PATH and the index folder
from its options; publishconf.py adds what a public deployment needs.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from casebook.safety import safe_url

SITENAME = "社区金融案例库"
SITESUBTITLE = "银行服务社区的实践案例：网点进社区、网格化金融服务、公益服务站、数字社区平台与金融知识宣传"
SITEURL = ""
AUTHOR = "社区金融案例库编辑部"
PATH = "content"
ARTICLE_PATHS = ["cases"]
# Date, slug and category are required front matter: nothing is taken from file or folder
# names (Pelican would parse a date out of every file name with dateutil, then discard it).
FILENAME_METADATA = ""
USE_FOLDER_AS_CATEGORY = False
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images"]
IGNORE_FILES = ["**/.*", "*.fresh"]
OUTPUT_PATH = "output"
THEME = str(ROOT / "theme")
PLUGIN_PATHS: list[str] = []   # the plugins are the importable package plugins/ of this repo
PLUGINS = ["plugins.casebook_reader", "plugins.casebook_site", "pelican.plugins.sitemap",
           "plugins.casebook_render_cache", "plugins.casebook_review"]

TIMEZONE = "Asia/Shanghai"
DEFAULT_LANG = "zh-CN"
LOCALE = ("C.UTF-8",)
DEFAULT_DATE_FORMAT = "%Y年%-m月%-d日"
DEFAULT_PAGINATION = 20
PAGINATED_TEMPLATES = {"index": None, "tag": None, "category": None, "author": None, "facet": None,
                       "period_archives": None}
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
)
SUMMARY_MAX_LENGTH = None

ARTICLE_URL = "cases/{slug}/"
ARTICLE_SAVE_AS = "cases/{slug}/index.html"
DRAFT_URL = "drafts/{slug}/"
DRAFT_SAVE_AS = "drafts/{slug}/index.html"
# Pages live under pages/: a page's slug can never name a folder the site owns (search/,
# banks/, ...), so no page replaces one.
PAGE_URL = "pages/{slug}/"
PAGE_SAVE_AS = "pages/{slug}/index.html"
CATEGORY_URL = "categories/{slug}/"
CATEGORY_SAVE_AS = "categories/{slug}/index.html"
CATEGORIES_SAVE_AS = "categories/index.html"
TAG_URL = "tags/{slug}/"
TAG_SAVE_AS = "tags/{slug}/index.html"
TAGS_SAVE_AS = "tags/index.html"
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = "archives/index.html"
# Year pages are written by plugins/casebook_site (Pelican's own take seconds at 10,000 cases:
# they scan every case against each year's list).
YEAR_ARCHIVE_SAVE_AS = ""
CASEBOOK_YEAR_URL = "years/{year}/"
CASEBOOK_YEAR_SAVE_AS = "years/{year}/index.html"
# One language: no translations to pair up (Pelican's pairing compares every case with
# every other one). Two cases with one slug are an error of `casebook check` and the index.
ARTICLE_TRANSLATION_ID = None
PAGE_TRANSLATION_ID = None


def newest_first(content) -> tuple:   # content: a Pelican Article or Page
    """Newest case first; cases of one moment by slug, so the order never depends on the
    order the file system lists the files in."""
    try:
        stamp = content.date.timestamp()
    except (AttributeError, OverflowError, ValueError):   # an undated draft (Pelican dates it at the end of time)
        stamp = float("inf")
    return (-stamp, content.slug)


ARTICLE_ORDER_BY = newest_first
DIRECT_TEMPLATES = ["index", "categories", "tags", "archives", "search", "robots", "404"]
SEARCH_SAVE_AS = "search/index.html"
# theme/templates/robots.txt (a direct template: TEMPLATE_PAGES would read a robots.txt in
# content/ first, as a Jinja template).
TEMPLATE_EXTENSIONS = [".html", ".txt"]
ROBOTS_SAVE_AS = "robots.txt"

# Categories and tags get the taxonomy's own ASCII slugs (branches-in-communities, age-friendly):
# plugins/casebook_reader puts the taxonomy's names in front of these rules when Pelican
# starts, from the build's data folder. A name the taxonomy does not know keeps its Chinese
# characters in its URL rather than a misleading transliteration (unidecode reads 适老化 as
# "gua lao hua").
SLUGIFY_USE_UNICODE = True
_DEFAULT_SLUG_SUBS = [(r"[^\w\s-]", ""), (r"(?u)\A\s*", ""), (r"(?u)\s*\Z", ""), (r"[-\s]+", "-")]
CATEGORY_REGEX_SUBSTITUTIONS = _DEFAULT_SLUG_SUBS
TAG_REGEX_SUBSTITUTIONS = _DEFAULT_SLUG_SUBS

FEED_DOMAIN = SITEURL
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = "feeds/categories/{slug}.atom.xml"
FEED_ALL_RSS = None
CATEGORY_FEED_RSS = None
TAG_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
RSS_FEED_SUMMARY_ONLY = True

SITEMAP = {
    "format": "xml",
    "priorities": {"articles": 0.8, "indexes": 0.5, "pages": 0.4},
    "changefreqs": {"articles": "monthly", "indexes": "daily", "pages": "monthly"},
    "exclude": ["drafts/", "search/", r"^robots\.txt$", r"(^|/)404\.html$"],   # the error page is no page to index
}

# Escape every value a template prints; article bodies and the build-time map are marked safe.
JINJA_ENVIRONMENT = {"trim_blocks": True, "lstrip_blocks": True, "autoescape": True, "auto_reload": False}


def _url_or_empty(url: object) -> str:
    return safe_url(url) or ""


def _urls(urls: object) -> list[str]:
    return [u for u in (safe_url(v) for v in urls or []) if u] if isinstance(urls, list | tuple) else []


# Every URL a template prints from a case goes through the site's one URL rule (the reader
# applied it already; templates apply it again, so a new field cannot forget it).
JINJA_FILTERS = {"safe_url": _url_or_empty, "safe_urls": _urls}

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.toc": {"permalink": False},
    },
    "output_format": "html5",
}

# Casebook's own settings (read by the plugins).
CASEBOOK_INDEX_DIR = str(ROOT / "var" / "index")
# SEARCH_FIELDS (the search page's facets, scraper/data/search_fields.yaml) is set by
# plugins/casebook_reader when Pelican starts.
LOAD_CONTENT_CACHE = False
CACHE_CONTENT = False
DELETE_OUTPUT_DIRECTORY = True
OUTPUT_RETENTION = [".git"]
