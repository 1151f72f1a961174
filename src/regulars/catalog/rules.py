"""Pure rules of the catalogue: barcodes."""

from __future__ import annotations

import functools

from stdnum import ean

from regulars.core.errors import InvalidInput
from regulars.core.i18n import _


def normalise_barcode(raw: str, *, field: str = "barcode") -> str:
    """Validate an EAN-13, EAN-8 or UPC-A barcode (check digit included) and return it.

    UPC-A (12 digits) is kept as its EAN-13 form with a leading zero, so the same product
    scanned either way is one barcode.
    """
    text = raw.strip()
    if not text.isdigit() or len(text) not in (8, 12, 13):
        raise InvalidInput(
            _("{value} is not an EAN-13, EAN-8 or UPC-A barcode"), field=field, value=raw
        )
    if not _check_digit_valid(text):
        raise InvalidInput(_("{value} has a wrong check digit"), field=field, value=raw)
    return "0" + text if len(text) == 12 else text


@functools.lru_cache(maxsize=65_536)
def _check_digit_valid(digits: str) -> bool:
    """Whether a string of 8, 12 or 13 digits ends in its GS1 check digit.

    A till sends the same few thousand barcodes all day, and ``stdnum``'s check (pure
    Python, a generator per digit) was about 6 % of a worker's time in the till
    benchmark; the answers are kept (at most 65,536, a few MiB).
    """
    return bool(ean.is_valid(digits))


def barcode_check_digit(body: str) -> str:
    """Return the GS1 check digit for a 7, 11 or 12-digit body."""
    return str(ean.calc_check_digit(body))
