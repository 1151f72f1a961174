"""Printable documents of the offers domain: a member's list and a funding statement.

The list carries a Code128 barcode of its code (the till scans it like the member card)
and a QR code of the member code. Chinese text uses ReportLab's built-in CID font
(STSong-Light), so no font file has to ship with Regulars.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode import code128, qr
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from regulars.core.config import get_settings
from regulars.core.errors import Conflict
from regulars.core.i18n import _, translate
from regulars.core.uow import UnitOfWork
from regulars.members.queries import member_get
from regulars.members.rules import member_code
from regulars.offers.queries import StatementLine, list_get, list_view
from regulars.offers.schemas import ListRead
from regulars.staff.audit import audit_record
from regulars.staff.models import StaffAccount

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _local(value: datetime) -> str:
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d")


def terms_text(kind: str, value: str, buy: int | None, get: int | None, locale: str) -> str:
    """A discount's terms as a short phrase (the sheet's and ``regulars deals show``'s)."""
    if kind == "percent":
        return translate(_("{value}% off"), locale, value=value)
    if kind == "amount":
        return translate(_("{value} off each"), locale, value=value)
    if kind == "price":
        return translate(_("now {value} each"), locale, value=value)
    return translate(_("buy {buy} get {get} free"), locale, buy=buy, get=get)


def list_pdf(view: ListRead, *, member_name: str, member_code: str, locale: str) -> bytes:
    """The list as a one-page A4 PDF with its barcode and the member's QR code."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    width, height = A4
    canvas.setFont(FONT, 18)
    canvas.drawString(
        20 * mm, height - 25 * mm, translate(_("Your personal shopping list"), locale)
    )
    canvas.setFont(FONT, 10)
    canvas.drawString(
        20 * mm,
        height - 33 * mm,
        translate(
            _("{name} · valid {start} to {end}"),
            locale,
            name=member_name,
            start=_local(view.valid_from),
            end=_local(view.valid_to),
        ),
    )
    barcode = code128.Code128(view.code or "", barHeight=14 * mm, barWidth=0.4 * mm)
    barcode.drawOn(canvas, 20 * mm, height - 55 * mm)
    canvas.drawString(22 * mm, height - 60 * mm, view.code or "")
    widget = qr.QrCodeWidget(member_code)
    x0, y0, x1, y1 = widget.getBounds()
    size = 30 * mm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    drawing.drawOn(canvas, width - 20 * mm - size, height - 62 * mm)
    y = height - 75 * mm
    for item in view.items:
        if y < 25 * mm:
            canvas.showPage()
            canvas.setFont(FONT, 10)
            y = height - 25 * mm
        terms = terms_text(item.kind, str(item.value), item.buy_qty, item.get_qty, locale)
        status = "" if item.status == "open" else f" ({translate(_('redeemed'), locale)})"
        canvas.setFont(FONT, 11)
        canvas.drawString(
            20 * mm, y, f"{item.position}. {item.product_name or item.product_id} — {terms}{status}"
        )
        canvas.setFont(FONT, 9)
        canvas.drawString(26 * mm, y - 5 * mm, item.reason)
        y -= 13 * mm
    if not view.items:
        canvas.drawString(20 * mm, y, translate(_("No offers on this list."), locale))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def list_document(
    uow: UnitOfWork,
    *,
    list_id: int,
    lang: str | None = None,
    fallback: str,
    actor: StaffAccount | str,
    page: str,
) -> tuple[ListRead, bytes]:
    """A list by id and its PDF, for the service desk, the API and the command line alike.

    The sheet is handed to the member, so it is in ``lang`` if given, else in the language
    the member chose (as their messages are), else in ``fallback``. A control entry has no
    code and no offers: printing it would give the member a blank sheet with an empty
    barcode, so it is refused. The sheet names the member, so printing it is a read of
    the member, written to the audit trail here for every caller (``list_print``).
    """
    row = list_get(uow.session, list_id=list_id)
    if row.group != "list":
        raise Conflict(
            _("list {id} is a control entry: it has no offers to print"), field="list_id", id=row.id
        )
    person = member_get(uow.session, member_id=row.member_id)
    locale = lang or str((person.extra or {}).get("locale") or fallback)
    view = list_view(uow, list_id=row.id, locale=locale)
    content = list_pdf(
        view,
        member_name=person.name or member_code(person.id),
        member_code=member_code(person.id),
        locale=locale,
    )
    audit_record(
        uow,
        actor=actor,
        action="list_print",
        member_id=view.member_id,
        page=page,
        detail={"list_id": view.id, "code": view.code},
    )
    return view, content


STATEMENT_HEADER = (
    "manufacturer",
    "deal",
    "title",
    "redemptions",
    "amount",
    "manufacturer_amount",
    "store_amount",
)


def statement_csv(lines: Sequence[StatementLine]) -> str:
    """The funding statement as CSV (one row per deal)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(STATEMENT_HEADER)
    for line in lines:
        writer.writerow(
            (
                line.manufacturer_code or "",
                line.deal_code,
                line.deal_title,
                line.redemptions,
                line.amount,
                line.manufacturer_amount,
                line.store_amount,
            )
        )
    return out.getvalue()


def statement_pdf(
    lines: Sequence[StatementLine], *, start: datetime, end: datetime, locale: str
) -> bytes:
    """The funding statement as a PDF table with totals."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4)
    height = A4[1]
    canvas.setFont(FONT, 16)
    canvas.drawString(20 * mm, height - 25 * mm, translate(_("Funding statement"), locale))
    canvas.setFont(FONT, 10)
    canvas.drawString(
        20 * mm,
        height - 32 * mm,
        translate(_("{start} to {end}"), locale, start=_local(start), end=_local(end)),
    )
    columns = (20, 45, 75, 125, 145, 170)
    heads = (
        _("manufacturer"),
        _("deal"),
        _("title"),
        _("redemptions"),
        _("cost"),
        _("manufacturer pays"),
    )
    y = height - 45 * mm
    for x, head in zip(columns, heads, strict=True):
        canvas.drawString(x * mm, y, translate(head, locale))
    y -= 7 * mm
    for line in lines:
        if y < 25 * mm:
            canvas.showPage()
            canvas.setFont(FONT, 10)
            y = height - 25 * mm
        values = (
            line.manufacturer_code or translate(_("store"), locale),
            line.deal_code or "—",
            line.deal_title[:28],
            str(line.redemptions),
            str(line.amount),
            str(line.manufacturer_amount),
        )
        for x, value in zip(columns, values, strict=True):
            canvas.drawString(x * mm, y, value)
        y -= 6 * mm
    total = sum((line.amount for line in lines), start=0)
    maker = sum((line.manufacturer_amount for line in lines), start=0)
    canvas.drawString(20 * mm, y - 4 * mm, translate(_("total"), locale))
    canvas.drawString(145 * mm, y - 4 * mm, str(total))
    canvas.drawString(170 * mm, y - 4 * mm, str(maker))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
