"""Pelican settings for a public build (`casebook build --publish`): pelicanconf.py, plus
absolute URLs from the site's address and no drafts.

The address is the setting `siteurl` (CASEBOOK_SITEURL in the environment). A public build
without one is refused: every link, the feeds, the sitemap and robots.txt would otherwise
carry a placeholder host.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Pelican loads this file by path: its folder (the project) is what `pelicanconf` and
# `casebook` are imported from, not another checkout installed in the environment.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from casebook.settings import load as _load_settings
from pelicanconf import *  # a public build is the preview build with the changes below

SITEURL = _load_settings().require_siteurl()
FEED_DOMAIN = SITEURL
RELATIVE_URLS = False
DRAFT_SAVE_AS = ""
DRAFT_URL = ""
