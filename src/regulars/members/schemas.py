"""Request and response models of the members domain (Base/Create/Update/Read)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from regulars.core.i18n import _
from regulars.core.schemas import Id, ReadSchema, Schema, domain_check, refuse
from regulars.members import rules

Purpose = Literal["marketing", "analytics", "personalised_offers"]
Channel = Literal["sms", "email", "wechat", "post"]
Gender = Literal["female", "male", "other", "unknown"]
Mobile = Annotated[str, AfterValidator(lambda v: domain_check(rules.normalise_mobile, v))]
Email = Annotated[
    str, Field(max_length=254), AfterValidator(lambda v: domain_check(rules.normalise_email, v))
]
CardNo = Annotated[str, Field(min_length=4, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
ShortText = Annotated[str, Field(max_length=100)]


class ConsentIn(Schema):
    """A grant or withdrawal of consent for one purpose on one channel."""

    purpose: Purpose
    channel: Channel
    granted: bool
    source: Annotated[str, Field(min_length=1, max_length=50)] = "staff"
    note: Annotated[str, Field(max_length=500)] | None = None


class ConsentRead(ReadSchema):
    """The consent in force for one purpose and channel."""

    purpose: str
    channel: str
    granted: bool
    at: datetime
    source: str


class MemberBase(Schema):
    """Fields a member or staff can set: basic, special and household data."""

    name: Annotated[str, Field(max_length=100)] | None = None
    gender: Gender | None = None
    birthday: date | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    community: ShortText | None = None
    occupation: ShortText | None = None
    hobbies: Annotated[list[ShortText], Field(max_length=30)] = []
    preferences: Annotated[list[ShortText], Field(max_length=30)] = []
    delivery_needs: Annotated[str, Field(max_length=500)] | None = None
    household_size: Annotated[int, Field(ge=1, le=30)] | None = None
    children_birth_years: Annotated[
        list[Annotated[int, Field(ge=1900, le=2100)]], Field(max_length=20)
    ] = []
    pets: Annotated[list[ShortText], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _birthday_not_future(self) -> MemberBase:
        if self.birthday is not None and self.birthday > date.today():  # noqa: DTZ011
            refuse(_("a birthday cannot be in the future"), field="birthday")
        return self


class MemberCreate(MemberBase):
    """Registration: a mobile number or a card number is required."""

    mobile: Mobile | None = None
    card_no: CardNo | None = None
    email: Email | None = None
    consents: Annotated[list[ConsentIn], Field(max_length=12)] = []

    @model_validator(mode="after")
    def _has_identity(self) -> MemberCreate:
        if not self.mobile and not self.card_no:
            refuse(_("a mobile number or a card number is required"), field="mobile")
        return self


class MemberUpdate(Schema):
    """Partial update of a member's data; only the fields sent are changed."""

    name: Annotated[str, Field(max_length=100)] | None = None
    gender: Gender | None = None
    birthday: date | None = None
    address: Annotated[str, Field(max_length=300)] | None = None
    community: ShortText | None = None
    occupation: ShortText | None = None
    hobbies: Annotated[list[ShortText], Field(max_length=30)] | None = None
    preferences: Annotated[list[ShortText], Field(max_length=30)] | None = None
    delivery_needs: Annotated[str, Field(max_length=500)] | None = None
    household_size: Annotated[int, Field(ge=1, le=30)] | None = None
    children_birth_years: (
        Annotated[list[Annotated[int, Field(ge=1900, le=2100)]], Field(max_length=20)] | None
    ) = None
    pets: Annotated[list[ShortText], Field(max_length=20)] | None = None
    mobile: Mobile | None = None
    card_no: CardNo | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _birthday_not_future(self) -> MemberUpdate:
        if self.birthday is not None and self.birthday > date.today():  # noqa: DTZ011
            refuse(_("a birthday cannot be in the future"), field="birthday")
        return self


class MemberSummary(ReadSchema):
    """What a till or a search list needs to know of a member."""

    id: int
    member_code: str
    card_no: str | None
    mobile_masked: str | None
    name: str | None
    status: str


class MemberRead(MemberSummary):
    """A member's full profile as staff see it (mobile and email masked)."""

    email_masked: str | None
    gender: str | None
    birthday: date | None
    address: str | None
    community: str | None
    occupation: str | None
    hobbies: list[str]
    preferences: list[str]
    delivery_needs: str | None
    first_purchase_at: datetime | None
    first_purchase_category: str | None
    household_size: int | None
    children_birth_years: list[int]
    pets: list[str]
    household_composition: str | None
    age_band: str | None
    income_band: str | None
    merged_into_id: int | None
    source: str
    is_demo: bool
    created_at: datetime
    consents: list[ConsentRead]


class MergeRequest(Schema):
    """Merge ``merged_id`` into ``survivor_id``."""

    survivor_id: Id
    merged_id: Id
    reason: Annotated[str, Field(max_length=500)] | None = None


class MergeRead(ReadSchema):
    """The record of a merge."""

    id: int
    survivor_id: int
    merged_id: int
    merged_at: datetime
    actor: str
    reason: str | None
    details: dict[str, object]


class IdentifyRequest(Schema):
    """A till identifies a member by exactly one of mobile, card number or member code."""

    mobile: Mobile | None = None
    card_no: CardNo | None = None
    member_code: Annotated[str, Field(min_length=1, max_length=20)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> IdentifyRequest:
        given = [v for v in (self.mobile, self.card_no, self.member_code) if v]
        if len(given) != 1:
            refuse(_("give exactly one of mobile, card_no or member_code"), field="mobile")
        return self
