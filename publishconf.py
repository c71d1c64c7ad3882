"""Settings for a public build: absolute URLs, no drafts, strict checks."""

from __future__ import annotations

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *  # also puts this repository on sys.path, and its safe_url in scope

SITEURL = os.environ.get("CASEBOOK_SITEURL", "https://cases.example.org")
# Every link of the public site starts with SITEURL: it obeys the site's one URL rule.
if safe_url(SITEURL, allow_relative=False) is None or not SITEURL.startswith(("http://", "https://")):
    from casebook.errors import SettingsError

    raise SettingsError(f"CASEBOOK_SITEURL {SITEURL!r} is not an http(s) address", source="publishconf.py",
                        hint="e.g. CASEBOOK_SITEURL=https://cases.example.org")
FEED_DOMAIN = SITEURL
RELATIVE_URLS = False
CASEBOOK_PREVIEW = False
CASEBOOK_STRICT = True
DRAFT_SAVE_AS = ""
