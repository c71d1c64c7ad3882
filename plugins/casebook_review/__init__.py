"""The preview site's review queue: /review/ (待审核) lists the drafts and the fresh
extractions beside edited cases (scraper/review.py, the same list as `casebook review`),
and /review/<slug>/ shows an edited case side by side with its fresh extraction.

A generator of its own (Pelican's `get_generators` signal, `generate_output` writing with
`writer.write_file`), so it needs nothing of the other plugins. It writes only in preview
builds (the session's `preview`, given to the templates as CASEBOOK_PREVIEW): a `--publish`
build has no review page, no link to one and no entry for one in the sitemap. The page's data are passed to `write_file` as the page's own
variables, so the render cache renders the page again whenever the queue changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup
from pelican import Pelican, signals
from pelican.generators import Generator
from pelican.writers import Writer

from casebook.app.session import session_of
from casebook.model import SLUG_RE

if TYPE_CHECKING:
    # scraper.review is imported only by a preview build: it brings the repost index
    # (datasketch, numpy), half a second of imports a public build never uses.
    from scraper.review import ReviewItem

log = logging.getLogger(__name__)
REVIEW_SAVE_AS = "review/index.html"
REVIEW_URL = "review/"
DIFF_SAVE_AS = "review/{slug}/index.html"
DIFF_URL = "review/{slug}/"


class ReviewGenerator(Generator):
    """Writes the review pages of a preview build; nothing in a public one."""

    def generate_context(self) -> None:
        self.items: list[ReviewItem] = []
        if not self.settings.get("CASEBOOK_PREVIEW"):
            return
        from scraper.review import queue

        folder = Path(self.settings["PATH"]) / (self.settings.get("ARTICLE_PATHS") or [""])[0]
        self.items = queue(folder, session_of(self.settings).data)

    def generate_output(self, writer: Writer) -> None:
        if not self.settings.get("CASEBOOK_PREVIEW"):
            return
        from scraper.review import side_by_side

        drafts = {draft.slug: draft.url for draft in self.context.get("drafts", [])}
        rows = [self._row(item, drafts) for item in self.items]
        relative = self.settings.get("RELATIVE_URLS", False)
        writer.write_file(REVIEW_SAVE_AS, self.get_template("review"), self.context, relative_urls=relative,
                          url=REVIEW_URL, review_items=rows)
        for item, row in zip(self.items, rows, strict=True):
            if row["diff_url"]:
                writer.write_file(DIFF_SAVE_AS.format(slug=item.slug), self.get_template("review_diff"), self.context,
                                  relative_urls=relative, url=row["diff_url"], review_item=row,
                                  # difflib escapes the files' text; the table is its own markup
                                  diff_table=Markup(side_by_side(item)))

    @staticmethod
    def _row(item: ReviewItem, drafts: dict[str, str]) -> dict:
        """What the templates show of an item: plain values (the render cache fingerprints them)."""
        row = item.to_json()
        row["draft_url"] = drafts.get(item.slug, "") if item.kind == "draft" else ""
        # The slug names a folder of the site: only a well-formed one gets a diff page.
        row["diff_url"] = DIFF_URL.format(slug=item.slug) if item.kind == "fresh" and SLUG_RE.match(item.slug) else ""
        return row


def keep_out_of_sitemap(pelican: Pelican) -> None:
    """The review pages are for editors: the preview's sitemap leaves them out too. Whether
    this is a preview is the session's; the setting carries it to the templates (the
    navigation's link)."""
    pelican.settings["CASEBOOK_PREVIEW"] = session_of(pelican.settings).preview
    sitemap = pelican.settings.get("SITEMAP")
    if isinstance(sitemap, dict) and "review/" not in sitemap.get("exclude", []):
        pelican.settings["SITEMAP"] = {**sitemap, "exclude": [*sitemap.get("exclude", []), "review/"]}


def get_generators(pelican: Pelican) -> type:  # noqa: ARG001 - the signal's argument
    return ReviewGenerator


def register() -> None:
    signals.initialized.connect(keep_out_of_sitemap)
    signals.get_generators.connect(get_generators)
