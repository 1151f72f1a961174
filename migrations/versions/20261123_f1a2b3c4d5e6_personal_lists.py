"""personal lists: deals, list settings, cycles, lists, items, redemptions

Revision ID: f1a2b3c4d5e6
Revises: b7c3e1f04a21
Create Date: 2026-11-23 21:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regulars.core.db

revision: str = "f1a2b3c4d5e6"
down_revision: str | None = "b7c3e1f04a21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "list_cycle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("valid_from", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=50), nullable=False),
        sa.Column("model_info", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_cycle")),
        sa.UniqueConstraint("starts_on", name=op.f("uq_list_cycle_starts_on")),
    )
    op.create_table(
        "list_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("window_weeks", sa.Integer(), nullable=False),
        sa.Column("threshold", regulars.core.db.Money(), nullable=False),
        sa.Column("cycle_days", sa.Integer(), nullable=False),
        sa.Column("list_length", sa.Integer(), nullable=False),
        sa.Column("max_per_category", sa.Integer(), nullable=False),
        sa.Column("control_share", sa.Float(), nullable=False),
        sa.Column("base_budget", regulars.core.db.Money(), nullable=False),
        sa.Column("tier_factors", sa.JSON(), nullable=False),
        sa.Column("store_discount", regulars.core.db.Quantity(), nullable=False),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("updated_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_settings")),
        sa.UniqueConstraint("code", name=op.f("uq_list_settings_code")),
    )
    op.create_table(
        "deal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("manufacturer_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=10), nullable=False),
        sa.Column("target_value", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", regulars.core.db.Money(), nullable=False),
        sa.Column("buy_qty", sa.Integer(), nullable=True),
        sa.Column("get_qty", sa.Integer(), nullable=True),
        sa.Column("valid_from", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("manufacturer_share", regulars.core.db.Quantity(), nullable=False),
        sa.Column("store_share", regulars.core.db.Quantity(), nullable=False),
        sa.Column("budget", regulars.core.db.Money(), nullable=True),
        sa.Column("spent", regulars.core.db.Money(), nullable=False),
        sa.Column("limit_per_member", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("budget IS NULL OR spent <= budget", name=op.f("ck_deal_within_budget")),
        sa.CheckConstraint(
            "manufacturer_share + store_share = 100000", name=op.f("ck_deal_shares_sum_100")
        ),
        sa.ForeignKeyConstraint(
            ["manufacturer_id"],
            ["manufacturer.id"],
            name=op.f("fk_deal_manufacturer_id_manufacturer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal")),
        sa.UniqueConstraint("code", name=op.f("uq_deal_code")),
    )
    op.create_index(
        "ix_deal_active_dates", "deal", ["active", "valid_from", "valid_to"], unique=False
    )
    op.create_index(op.f("ix_deal_manufacturer_id"), "deal", ["manufacturer_id"], unique=False)
    op.create_table(
        "personal_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("group", sa.String(length=10), nullable=False),
        sa.Column("personalised", sa.Boolean(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=True),
        sa.Column("valid_from", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("weekly_spend", regulars.core.db.Money(), nullable=False),
        sa.Column("budget", regulars.core.db.Money(), nullable=False),
        sa.Column("value_tier", sa.String(length=10), nullable=True),
        sa.Column("spend_before", regulars.core.db.Money(), nullable=True),
        sa.Column("spend_during", regulars.core.db.Money(), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.Column("created_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["list_cycle.id"], name=op.f("fk_personal_list_cycle_id_list_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_personal_list_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_list")),
        sa.UniqueConstraint("code", name=op.f("uq_personal_list_code")),
    )
    op.create_index(op.f("ix_personal_list_cycle_id"), "personal_list", ["cycle_id"], unique=False)
    op.create_index(
        "ix_personal_list_member_cycle", "personal_list", ["member_id", "cycle_id"], unique=False
    )
    op.create_table(
        "list_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("value", regulars.core.db.Money(), nullable=False),
        sa.Column("buy_qty", sa.Integer(), nullable=True),
        sa.Column("get_qty", sa.Integer(), nullable=True),
        sa.Column("max_discount", regulars.core.db.Money(), nullable=False),
        sa.Column("manufacturer_share", regulars.core.db.Quantity(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("expected_days", sa.Float(), nullable=True),
        sa.Column("reason_code", sa.String(length=20), nullable=False),
        sa.Column("reason_message", sa.String(length=200), nullable=False),
        sa.Column("reason_params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(["deal_id"], ["deal.id"], name=op.f("fk_list_item_deal_id_deal")),
        sa.ForeignKeyConstraint(
            ["list_id"], ["personal_list.id"], name=op.f("fk_list_item_list_id_personal_list")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_list_item_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_item")),
        sa.UniqueConstraint("list_id", "position", name=op.f("uq_list_item_list_id_position")),
    )
    op.create_index(op.f("ix_list_item_deal_id"), "list_item", ["deal_id"], unique=False)
    op.create_index(op.f("ix_list_item_list_id"), "list_item", ["list_id"], unique=False)
    op.create_index(op.f("ix_list_item_product_id"), "list_item", ["product_id"], unique=False)
    op.create_table(
        "list_redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("manufacturer_id", sa.Integer(), nullable=True),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("amount", regulars.core.db.Money(), nullable=False),
        sa.Column("manufacturer_amount", regulars.core.db.Money(), nullable=False),
        sa.Column("store_amount", regulars.core.db.Money(), nullable=False),
        sa.Column("redeemed_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deal_id"], ["deal.id"], name=op.f("fk_list_redemption_deal_id_deal")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["list_item.id"], name=op.f("fk_list_redemption_item_id_list_item")
        ),
        sa.ForeignKeyConstraint(
            ["list_id"], ["personal_list.id"], name=op.f("fk_list_redemption_list_id_personal_list")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_list_redemption_member_id_member")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_list_redemption")),
        sa.UniqueConstraint("item_id", name=op.f("uq_list_redemption_item_id")),
    )
    op.create_index(
        op.f("ix_list_redemption_deal_id"), "list_redemption", ["deal_id"], unique=False
    )
    op.create_index(
        op.f("ix_list_redemption_list_id"), "list_redemption", ["list_id"], unique=False
    )
    op.create_index(
        op.f("ix_list_redemption_manufacturer_id"),
        "list_redemption",
        ["manufacturer_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_list_redemption_receipt_id"), "list_redemption", ["receipt_id"], unique=False
    )
    op.create_index(
        op.f("ix_list_redemption_redeemed_at"), "list_redemption", ["redeemed_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_list_redemption_redeemed_at"), table_name="list_redemption")
    op.drop_index(op.f("ix_list_redemption_receipt_id"), table_name="list_redemption")
    op.drop_index(op.f("ix_list_redemption_manufacturer_id"), table_name="list_redemption")
    op.drop_index(op.f("ix_list_redemption_list_id"), table_name="list_redemption")
    op.drop_index(op.f("ix_list_redemption_deal_id"), table_name="list_redemption")
    op.drop_table("list_redemption")
    op.drop_index(op.f("ix_list_item_product_id"), table_name="list_item")
    op.drop_index(op.f("ix_list_item_list_id"), table_name="list_item")
    op.drop_index(op.f("ix_list_item_deal_id"), table_name="list_item")
    op.drop_table("list_item")
    op.drop_index("ix_personal_list_member_cycle", table_name="personal_list")
    op.drop_index(op.f("ix_personal_list_cycle_id"), table_name="personal_list")
    op.drop_table("personal_list")
    op.drop_index(op.f("ix_deal_manufacturer_id"), table_name="deal")
    op.drop_index("ix_deal_active_dates", table_name="deal")
    op.drop_table("deal")
    op.drop_table("list_settings")
    op.drop_table("list_cycle")
