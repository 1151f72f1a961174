"""Commands that move data in bulk: ``regulars import …`` and ``regulars demo …``."""

from __future__ import annotations

import typer

import_app = typer.Typer(help="Bulk import of members, products and receipts (CSV or Parquet).", no_args_is_help=True)
demo_app = typer.Typer(help="The demo store built from ../shared/data/completejourney.", no_args_is_help=True)
