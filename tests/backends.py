"""A search backend for the server's stall test (selected with CASEBOOK_SEARCH_BACKEND)."""

from __future__ import annotations

import time

from search.backend import WhooshBackend
from search.query import SearchRequest, SearchResponse

SLOW_MARK = "慢查询"
SLOW_SECONDS = 3.0


class SlowBackend(WhooshBackend):
    """The real Whoosh backend; a query holding SLOW_MARK first spends SLOW_SECONDS of CPU
    in Python, holding the GIL as a pathological query does, so the test can check that
    such work never runs on the event loop (where it would stall every other request)."""

    def search(self, request: SearchRequest) -> SearchResponse:
        if SLOW_MARK in request.q:
            end = time.perf_counter() + SLOW_SECONDS
            while time.perf_counter() < end:
                sum(range(2000))
        return super().search(request)


class BusyBackend(WhooshBackend):
    """The real backend; a query holding SLOW_MARK first waits SLOW_SECONDS without using
    the CPU (as a query waiting on a cold disk does): it occupies a search thread, so the
    test sees whether other requests queue behind the search pool."""

    def search(self, request: SearchRequest) -> SearchResponse:
        if SLOW_MARK in request.q:
            time.sleep(SLOW_SECONDS)
        return super().search(request)
