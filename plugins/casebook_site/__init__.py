from .generator import register  # noqa: F401
