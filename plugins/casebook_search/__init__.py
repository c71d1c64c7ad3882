from .indexing import register  # noqa: F401
