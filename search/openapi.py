"""The OpenAPI 3.1 description of the search API, served at /api/openapi.json.

Built from the same tables the service reads (the search fields, the sorts, the limits in
the settings), so the description cannot drift from what the server accepts; a test checks
real responses against its schemas.
"""

from __future__ import annotations

from search.fields import FACET_FIELDS, FILTERS
from search.rank import SORTS

STRING_LIST = {"type": "array", "items": {"type": "string"}}
DATE_FORMS = ("2021, 2021-3, 2021-03-05, 2021年3月, 2021年3月5日; a range joins two with `..`, `~`, `至` or "
              "`到` and may be open at one end: 2021-3..2021-6, ..2021-06, 2021..")


def _param(name: str, description: str, schema: dict, *, repeatable: bool = False) -> dict:
    body = {"type": "array", "items": schema} if repeatable else schema
    return {"name": name, "in": "query", "required": False, "description": description, "schema": body,
            **({"style": "form", "explode": True} if repeatable else {})}


def parameters(max_page: int, max_page_size: int, max_query_chars: int) -> list[dict]:
    """Every query parameter of /api/search and /api/export (export adds `format`)."""
    out = [
        _param("q", "The query: words, \"phrases\", AND, OR, NOT or -word, parentheses, field:value "
                    f"filters and date:RANGE. At most {max_query_chars} characters.",
               {"type": "string", "maxLength": max_query_chars}),
        _param("limit", f"Results per page, 1 to {max_page_size} (ASCII digits).",
               {"type": "integer", "minimum": 1, "maximum": max_page_size, "default": 10}),
        _param("page", f"Page number, 1 to {max_page} (ASCII digits).",
               {"type": "integer", "minimum": 1, "maximum": max_page, "default": 1}),
        _param("sort", "Order of the results.", {"type": "string", "enum": list(SORTS), "default": "relevance"}),
        _param("date", f"A date or a date range: {DATE_FORMS}.", {"type": "string"}),
        _param("from", "Cases dated on or after this date (same forms as `date`).", {"type": "string"}),
        _param("to", "Cases dated on or before this date (same forms as `date`).", {"type": "string"}),
    ]
    for field in FILTERS:
        how = "a year (2021 or 2021年) or a range of years (2019..2021)" if field.match == "year" else \
            "a value, or part of one (上海 finds 上海市)"
        out.append(_param(field.param, f"Filter on {field.name} ({field.label}): {how}. Repeatable: every "
                                       "value given must hold.", {"type": "string", "maxLength": 100},
                          repeatable=True))
    return out


def schemas() -> dict:
    result = {
        "type": "object", "additionalProperties": False,
        "required": ["slug", "path", "url", "title", "date", "category", "banks", "province", "city", "district",
                     "tags", "programs", "source", "score", "snippet", "title_html"],
        "properties": {
            "slug": {"type": "string"}, "path": {"type": "string"},
            "url": {"type": ["string", "null"], "description": "site-relative or http(s); null when unsafe"},
            "title": {"type": "string"}, "date": {"type": "string", "description": "ISO 8601, as in the case"},
            "category": {"type": "string"}, "banks": STRING_LIST, "province": {"type": "string"},
            "city": {"type": "string"}, "district": {"type": "string"}, "tags": STRING_LIST,
            "programs": STRING_LIST, "source": {"type": "string"}, "score": {"type": "number"},
            "snippet": {"type": "string", "description": "HTML: escaped text with <mark> around matches"},
            "title_html": {"type": "string", "description": "HTML: escaped title with <mark> around matches"},
        },
    }
    facet = {"type": "array", "items": {"type": "object", "additionalProperties": False, "required": ["value", "count"],
                                        "properties": {"value": {"type": "string"},
                                                       "count": {"type": "integer", "minimum": 1}}}}
    response = {
        "type": "object", "additionalProperties": False,
        "required": ["query", "total", "page", "page_size", "sort", "took_ms", "notice", "did_you_mean", "results",
                     "facets"],
        "properties": {
            "query": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1}, "page_size": {"type": "integer", "minimum": 1},
            "sort": {"type": "string", "enum": list(SORTS)}, "took_ms": {"type": "number", "minimum": 0},
            "notice": {"type": ["string", "null"], "description": "set when the query was read as plain text"},
            "did_you_mean": STRING_LIST,
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Result"}},
            "facets": {"type": "object", "additionalProperties": False,
                       "properties": {name: facet for name in FACET_FIELDS}},
        },
    }
    row = {"type": "object", "required": ["slug", "title", "date", "url"],
           "properties": {"slug": {"type": "string"}, "title": {"type": "string"}, "date": {"type": "string"},
                          "url": {"type": "string"}, "banks": STRING_LIST, "tags": STRING_LIST}}
    error = {"type": "object", "additionalProperties": False, "required": ["error"],
             "properties": {"error": {"type": "string", "description": "what is wrong and what to do"}}}
    return {"Result": result, "SearchResponse": response, "ExportRow": row, "Error": error}


def document(max_page: int, max_page_size: int, max_query_chars: int) -> dict:
    params = parameters(max_page, max_page_size, max_query_chars)
    errors = {
        "400": {"description": "A bad parameter; the message says which and what is allowed.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "No index yet, or the query ran past the time limit.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
    }
    export_format = _param("format", "csv (cells neutralised against formulas) or json.",
                           {"type": "string", "enum": ["csv", "json"], "default": "csv"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Casebook search API (社区金融案例库检索)", "version": "1",
                 "description": "Search the cases of the site: the same answers as `casebook search`."},
        "paths": {
            "/api/search": {"get": {
                "summary": "One page of matching cases, with facet counts and the total.",
                "operationId": "search", "parameters": params,
                "responses": {"200": {"description": "The page of results.", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/SearchResponse"}}}}, **errors}}},
            "/api/export": {"get": {
                "summary": "Every matching case (not one page) as CSV or JSON.",
                "operationId": "export", "parameters": [*params, export_format],
                "responses": {"200": {"description": "All matches.", "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "array",
                                                     "items": {"$ref": "#/components/schemas/ExportRow"}}}}},
                    **errors}}},
        },
        "components": {"schemas": schemas()},
    }
