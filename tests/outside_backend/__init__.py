"""A search backend written outside Casebook against docs/search-backend.md alone."""
