"""Regulars: an open-source CRM for supermarkets."""

__version__ = "0.1.0"
