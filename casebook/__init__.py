"""Casebook: Chinese banks' community-service reports turned into a searchable case library."""

__version__ = "0.1.0"
