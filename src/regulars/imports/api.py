"""Staff API of bulk imports (filled in with the import service)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])
