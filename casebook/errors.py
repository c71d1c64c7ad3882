"""The one exception tree of Casebook. Every error carries the file (or URL) and reason."""

from __future__ import annotations


class CasebookError(Exception):
    """Base of every error Casebook raises on purpose."""

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class SettingsError(CasebookError):
    """A setting is missing or invalid; raised at start-up."""


class InputError(CasebookError):
    """An input cannot be read: empty, binary, too large, undecodable."""


class FetchError(InputError):
    """A URL could not be fetched."""


class FetchRefused(FetchError):
    """A URL leads to an address that is not fetched (loopback, private, link-local, ...)."""


class ExtractionError(CasebookError):
    """A document was read but no story could be extracted from it."""


class ContentError(CasebookError):
    """A case file breaks the content model."""


class SearchError(CasebookError):
    """The search index is missing, stale or cannot answer."""


class QueryError(SearchError):
    """A search request has a bad parameter (HTTP 400)."""


class QueryTimeout(SearchError):
    """A query ran past the time limit (HTTP 503: the service is fine, the query too costly)."""
