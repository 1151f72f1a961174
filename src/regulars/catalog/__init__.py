"""Catalogue: products, manufacturers, stores and their till terminals."""
