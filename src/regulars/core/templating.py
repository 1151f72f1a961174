"""Server-rendered pages: one Jinja2 environment over every domain's ``templates/`` folder.

Each domain keeps its templates beside its ``web.py``; the shared layout lives in
``core/templates``. Text is translated per request by passing ``_`` into the context
(thread-safe, unlike installing gettext callables on the shared environment).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from regulars.core.config import get_settings
from regulars.core.i18n import translate
from regulars.core.labels import label

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE_DIR / "core" / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared Jinja2 environment (autoescaping on: every value is HTML-escaped)."""
    folders = [str(PACKAGE_DIR / "core" / "templates")]
    folders += sorted(str(p) for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "core")
    env = Environment(
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = local_time
    return env


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the chain's time zone (``{{ t|local }}``)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime(fmt)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    locale: str,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` in ``locale`` with the request and a translating ``_``."""

    def gettext(message: str, **params: Any) -> str:
        return translate(message, locale, **params)

    def label_text(code: str | None) -> str:
        return translate(label(code), locale)

    values: dict[str, Any] = {
        "request": request,
        "_": gettext,
        "label": label_text,
        "locale": locale,
        **(context or {}),
    }
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
