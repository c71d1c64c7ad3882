"""The ground-layer URL rule against every spelling of a script scheme an attacker may try."""

from __future__ import annotations

import pytest

from casebook.safety import safe_url

REFUSED = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:x", "java\tscript:x", "java\nscript:x",
    "&#106;avascript:x", "&#x6A;avascript:x", "&#106avascript:x", "javascript&colon;x", "javascript&#58;x",
    "jav&#x09;ascript:x", "\x01javascript:x", "\u2028javascript:x", "javascript\u00ad:x",
    "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>", "file:///etc/passwd",
    "/\\evil.com", "\\\\evil.com", "http:\\\\evil.com", "https:/\\evil.com", "/\t/evil.com",
    # Full-width forms: NFKC (which search and some tools apply) turns them into a scheme.
    "javascript\uff1aalert(1)", "\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54:alert(1)",
    "javascript&#xff1a;alert(1)", "data\uff1atext/html,x",
]
KEPT = ["https://example.com/a?b=1#c", "HTTP://example.com/", "mailto:a@example.com", "/cases/x/", "x.jpg",
        "#top", "?q=1", "//example.com/x.png", "images/银行.jpg"]


@pytest.mark.parametrize("url", REFUSED)
def test_every_spelling_of_a_script_scheme_is_refused(url):
    assert safe_url(url) is None
    assert safe_url(url, allow_relative=False) is None


@pytest.mark.parametrize("url", KEPT)
def test_ordinary_urls_are_kept_as_written(url):
    assert safe_url(url) == url
