"""Bulk import of members, products and receipts from CSV or Parquet files."""
