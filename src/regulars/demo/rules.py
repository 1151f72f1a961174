"""How the demo fills what Complete Journey does not have: fixed, reproducible rules.

Everything derived here is demo data (``is_demo=True``) and the same input always gives
the same output, so the demo store is identical on every machine.

* **Mobile numbers**: ``139`` + the household id on 8 digits (household 2261 is
  13900002261): valid mainland mobiles for ``phonenumbers``, unique per household.
* **Barcodes**: the CJ product id has no EAN, so each product gets one in GS1's in-store
  range: ``20`` + the product id on 10 digits + the check digit (member codes use
  ``29``, so the two never collide).
* **Unit price** of a line: what the shopper would have paid before discounts,
  ``(sales_value + retail_disc + coupon_disc + coupon_match_disc) / quantity``, rounded
  *up* to the cent; ``discount = quantity × unit_price − sales_value``, so
  ``amount == quantity × unit_price − discount`` exactly and no discount is negative.
* **Product price** is the median of its lines' unit prices; **cost price** is that price
  less the department margin below, rounded down to the cent (products never sold in the
  file have neither).
* **Product names**: ``name_en`` from the product type, else its category, else its
  department; ``name_zh`` from a small department table.
* **Lines with nothing sold**: 416 lines of the sample have a quantity of 0 and a sales
  value of 0 (coupons scanned on their own, with the coupon's product): they are no line
  of a receipt. They are reported (``nothing sold``) and the rest of their basket loads.
* **Products products.csv lacks**: a product the transactions name that products.csv
  does not list (one sold line in the sample, product 1093587) gets a product of its own,
  priced by the rule above, so its basket is not lost. Nothing else is known of it: no
  name, department or manufacturer, so it is *to review*, as a till's unknown barcode is.
  One id of products.csv is written in scientific notation (``9e+05``, by R): it is read
  as the integer it stands for (900000).
* **Time**: CJ timestamps are naive local times of an unnamed US chain; they are read as
  UTC.
* **Consents**: CJ has none, so each household is given the choices a loyalty sign-up form
  would record (source ``demo``): analytics and SMS marketing granted, personalised offers
  granted — except households whose id ends in 0, which refuse personalisation (PIPL
  Art. 24: they get the non-personalised list), and those ending in 5, which refuse
  analytics (no household signals are inferred for them).
"""

from __future__ import annotations

from regulars.catalog.rules import barcode_check_digit

MOBILE_PREFIX = "139"
BARCODE_PREFIX = "20"
TERMINAL = "T01"
STORE_PREFIX = "CJ"
SKU_PREFIX = "CJ"
MANUFACTURER_PREFIX = "CJM"
MEMBER_REF_PREFIX = "cj-"
DEFAULT_MARGIN = 0.30
# Gross margin by department, typical of a supermarket (fresh lower, health and beauty higher).
MARGINS = {
    "GROCERY": 0.28,
    "DRUG GM": 0.35,
    "PRODUCE": 0.33,
    "COSMETICS": 0.40,
    "NUTRITION": 0.32,
    "MEAT": 0.22,
    "MEAT-PCKGD": 0.25,
    "DELI": 0.35,
    "PASTRY": 0.40,
    "FLORAL": 0.45,
    "SEAFOOD": 0.22,
    "SEAFOOD-PCKGD": 0.25,
    "SPIRITS": 0.20,
    "FUEL": 0.05,
    "KIOSK-GAS": 0.05,
}
DEPARTMENT_ZH = {
    "GROCERY": "杂货",
    "DRUG GM": "药品百货",
    "PRODUCE": "果蔬",
    "COSMETICS": "化妆品",
    "NUTRITION": "营养保健",
    "MEAT": "鲜肉",
    "MEAT-PCKGD": "包装肉类",
    "DELI": "熟食",
    "PASTRY": "烘焙",
    "FLORAL": "鲜花",
    "SEAFOOD": "水产",
    "SEAFOOD-PCKGD": "包装水产",
    "SPIRITS": "酒类",
    "FUEL": "燃油",
}


def mobile_for(household_id: int) -> str:
    """The demo mobile of a household (11 mainland digits)."""
    return f"{MOBILE_PREFIX}{household_id:08d}"


def barcode_for(product_id: int) -> str:
    """The demo EAN-13 of a CJ product, in the in-store range 20."""
    body = f"{BARCODE_PREFIX}{product_id:010d}"
    return body + barcode_check_digit(body)


def margin_for(department: str | None) -> float:
    """The demo gross margin of a department."""
    return MARGINS.get(department or "", DEFAULT_MARGIN)


def demo_consents(household: int) -> dict[tuple[str, str], bool]:
    """The (purpose, channel) → granted choices a demo household made at sign-up."""
    return {
        ("marketing", "sms"): True,
        ("analytics", "sms"): household % 10 != 5,
        ("personalised_offers", "sms"): household % 10 != 0,
    }
