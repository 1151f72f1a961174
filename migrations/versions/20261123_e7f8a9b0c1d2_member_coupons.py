"""member coupons: the rewards catalogue, member coupons, the birthday coupon's terms

Revision ID: e7f8a9b0c1d2
Revises: b7c3e1f04a21
Create Date: 2026-11-23 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regulars.core.db

revision: str = "e7f8a9b0c1d2"
down_revision: str | None = "b7c3e1f04a21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing programmes get the same birthday coupon as a new one: ¥10 off ¥50 (in cents).
    with op.batch_alter_table("loyalty_programme", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "birthday_coupon_value",
                regulars.core.db.Money(),
                nullable=False,
                server_default="1000",
            )
        )
        batch_op.add_column(
            sa.Column(
                "birthday_coupon_min_spend",
                regulars.core.db.Money(),
                nullable=False,
                server_default="5000",
            )
        )

    op.create_table(
        "loyalty_reward",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("value", regulars.core.db.Money(), nullable=False),
        sa.Column("max_discount", regulars.core.db.Money(), nullable=True),
        sa.Column("min_spend", regulars.core.db.Money(), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_loyalty_reward_points_positive")),
        sa.CheckConstraint(
            "stock IS NULL OR stock >= 0", name=op.f("ck_loyalty_reward_stock_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["loyalty_programme.id"],
            name=op.f("fk_loyalty_reward_programme_id_loyalty_programme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_reward")),
        sa.UniqueConstraint(
            "programme_id", "code", name=op.f("uq_loyalty_reward_programme_id_code")
        ),
    )
    with op.batch_alter_table("loyalty_reward", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_loyalty_reward_programme_id"), ["programme_id"], unique=False
        )

    op.create_table(
        "member_coupon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("value", regulars.core.db.Money(), nullable=False),
        sa.Column("max_discount", regulars.core.db.Money(), nullable=True),
        sa.Column("min_spend", regulars.core.db.Money(), nullable=False),
        sa.Column("valid_from", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("reward_id", sa.Integer(), nullable=True),
        sa.Column("points_line_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", regulars.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("discount", regulars.core.db.Money(), nullable=True),
        sa.Column("voided_at", regulars.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("value >= 0", name=op.f("ck_member_coupon_value_not_negative")),
        sa.ForeignKeyConstraint(
            ["member_id"], ["member.id"], name=op.f("fk_member_coupon_member_id_member")
        ),
        sa.ForeignKeyConstraint(
            ["points_line_id"],
            ["points_line.id"],
            name=op.f("fk_member_coupon_points_line_id_points_line"),
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"],
            ["loyalty_reward.id"],
            name=op.f("fk_member_coupon_reward_id_loyalty_reward"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_coupon")),
        sa.UniqueConstraint("code", name=op.f("uq_member_coupon_code")),
        sa.UniqueConstraint(
            "member_id", "source", "period", name=op.f("uq_member_coupon_member_id_source_period")
        ),
    )
    with op.batch_alter_table("member_coupon", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_coupon_member_status", ["member_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_member_coupon_status_valid_to", ["status", "valid_to"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_coupon_points_line_id"), ["points_line_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_coupon_receipt_id"), ["receipt_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_member_coupon_reward_id"), ["reward_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("member_coupon", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_coupon_reward_id"))
        batch_op.drop_index(batch_op.f("ix_member_coupon_receipt_id"))
        batch_op.drop_index(batch_op.f("ix_member_coupon_points_line_id"))
        batch_op.drop_index("ix_member_coupon_status_valid_to")
        batch_op.drop_index("ix_member_coupon_member_status")

    op.drop_table("member_coupon")
    with op.batch_alter_table("loyalty_reward", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_reward_programme_id"))

    op.drop_table("loyalty_reward")
    with op.batch_alter_table("loyalty_programme", schema=None) as batch_op:
        batch_op.drop_column("birthday_coupon_min_spend")
        batch_op.drop_column("birthday_coupon_value")
