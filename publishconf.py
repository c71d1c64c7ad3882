"""Settings for a public build: absolute URLs, no drafts, strict checks."""

from __future__ import annotations

import os
import sys

sys.path.append(os.curdir)
from pelicanconf import *

SITEURL = os.environ.get("CASEBOOK_SITEURL", "https://cases.example.org")
FEED_DOMAIN = SITEURL
RELATIVE_URLS = False
CASEBOOK_PREVIEW = False
CASEBOOK_STRICT = True
DRAFT_SAVE_AS = ""
