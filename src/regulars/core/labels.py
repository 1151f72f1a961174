"""Display names (catalogue ids) of the code words stored in the database.

Codes such as ``personalised_offers`` or ``return`` are stable identifiers; what staff
and members read is their label, translated by the catalogue.
"""

from __future__ import annotations

from regulars.core.i18n import _

LABELS: dict[str, str] = {
    # outbox delivery states and what a message is for
    "pending": _("waiting"),
    "sending": _("sending"),
    "sent": _("sent"),
    "otp": _("sign-in code"),
    "notice": _("notice"),
    "personal_list": _("personal list"),
    "birthday": _("birthday offer"),
    "member_day": _("member day reminder"),
    # member status
    "active": _("active"),
    "merged": _("merged"),
    "erased": _("erased"),
    # gender
    "female": _("female"),
    "male": _("male"),
    "other": _("other"),
    "unknown": _("unknown"),
    # consent purposes and channels
    "marketing": _("marketing"),
    "analytics": _("analytics"),
    "personalised_offers": _("personalised offers"),
    "sms": _("SMS"),
    "email": _("email"),
    "wechat": _("WeChat"),
    "post": _("post"),
    # receipt kinds
    "sale": _("sale"),
    "return": _("return"),
    # where a receipt came from
    "till": _("till"),
    "import": _("file import"),
    "demo": _("demo data"),
    # payment methods ("other" is above)
    "cash": _("cash"),
    "bank_card": _("bank card"),
    "wechat_pay": _("WeChat Pay"),
    "alipay": _("Alipay"),
    "voucher": _("voucher"),
    "points": _("points"),
    "stored_value": _("stored value"),
    # import kinds and run states
    "members": _("members"),
    "products": _("products"),
    "receipts": _("receipts"),
    "returns": _("returns"),
    "queued": _("queued"),
    "running": _("running"),
    "waiting": _("waiting for another import to finish a batch"),
    "done": _("done"),
    "failed": _("failed"),
    # points ledger: kinds of line and their sources
    "earn": _("earned"),
    "bonus": _("bonus"),
    "redeem": _("redeemed"),
    "expire": _("expired"),
    "adjust": _("adjustment"),
    "compensate": _("compensation"),
    "reverse": _("reversed"),
    "transfer": _("transfer"),
    "debt": _("debt"),
    "receipt": _("receipt"),
    "expiry": _("expiry"),
    "staff": _("staff"),
    "campaign": _("campaign"),
    "ticket": _("service ticket"),
    "merge": _("merge"),
    # weekdays (member days)
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
    # RFM segments
    "champions": _("champions"),
    "loyal": _("loyal"),
    "potential_loyalist": _("potential loyalists"),
    "new_customers": _("new customers"),
    "promising": _("promising"),
    "need_attention": _("need attention"),
    "about_to_sleep": _("about to sleep"),
    "at_risk": _("at risk"),
    "cant_lose": _("can't lose them"),
    "hibernating": _("hibernating"),
    "lost": _("lost"),
    # profit pyramid tiers
    "platinum": _("platinum"),
    "gold": _("gold"),
    "iron": _("iron"),
    "lead": _("lead"),
    # churn status
    "churned": _("churned"),
    "new": _("new"),
    # household signals
    "baby": _("baby"),
    "young_children": _("young children"),
    "pet_dog": _("dog owner"),
    "pet_cat": _("cat owner"),
    "pet": _("pet owner"),
    "pet_other": _("other pet"),
    # analytics engines
    "local": _("local"),
    "spark": _("Spark"),
}


def label(code: str | None) -> str:
    """The catalogue id of a code's display name (the code itself when it has none)."""
    if code is None:
        return ""
    return LABELS.get(code, code)
