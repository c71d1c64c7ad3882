"""The backend contract (tests/backend_contract.py) run against the Whoosh backend that ships."""

from __future__ import annotations

from tests.backend_contract import BackendContract


class TestWhooshBackend(BackendContract):
    SPEC = "search.backend:WhooshBackend"
