"""Settings for a public build: absolute URLs, no drafts, strict checks."""

from __future__ import annotations

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *

SITEURL = os.environ.get("CASEBOOK_SITEURL", "https://cases.example.org")


def _check_siteurl(url: str) -> None:
    """Every link of the public site starts with SITEURL: it obeys the site's one URL rule."""
    from casebook.errors import SettingsError
    from casebook.safety import safe_url

    if safe_url(url, allow_relative=False) is None or not url.startswith(("http://", "https://")):
        raise SettingsError(f"CASEBOOK_SITEURL {url!r} is not an http(s) address", source="publishconf.py",
                            hint="e.g. CASEBOOK_SITEURL=https://cases.example.org")


_check_siteurl(SITEURL)
FEED_DOMAIN = SITEURL
RELATIVE_URLS = False
CASEBOOK_PREVIEW = False
CASEBOOK_STRICT = True
DRAFT_SAVE_AS = ""
