"""basket rules

Revision ID: c4a1b2d3e5f6
Revises: b7c3e1f04a21
Create Date: 2026-11-23 21:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import regulars.core.db

revision: str = "c4a1b2d3e5f6"
down_revision: str | None = "b7c3e1f04a21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "basket_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("min_support", sa.Float(), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("min_lift", sa.Float(), nullable=False),
        sa.Column("engine", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", regulars.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", regulars.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=True),
        sa.Column("transactions", sa.Integer(), nullable=False),
        sa.Column("itemsets", sa.Integer(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=True),
        sa.Column("started_by", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"], ["store.id"], name=op.f("fk_basket_run_store_id_store")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_basket_run")),
    )
    with op.batch_alter_table("basket_run", schema=None) as batch_op:
        batch_op.create_index(
            "ix_basket_run_active", ["level", "status", "store_id", "id"], unique=False
        )

    op.create_table(
        "basket_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("antecedent", sa.JSON(), nullable=False),
        sa.Column("consequent", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("support", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("lift", sa.Float(), nullable=False),
        sa.Column("leverage", sa.Float(), nullable=False),
        sa.Column("conviction", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["basket_run.id"],
            name=op.f("fk_basket_rule_run_id_basket_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_basket_rule")),
    )
    with op.batch_alter_table("basket_rule", schema=None) as batch_op:
        batch_op.create_index(
            "ix_basket_rule_run_consequent", ["run_id", "consequent"], unique=False
        )

    op.create_table(
        "basket_rule_item",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["basket_rule.id"],
            name=op.f("fk_basket_rule_item_rule_id_basket_rule"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["basket_run.id"],
            name=op.f("fk_basket_rule_item_run_id_basket_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("rule_id", "item", name=op.f("pk_basket_rule_item")),
    )
    with op.batch_alter_table("basket_rule_item", schema=None) as batch_op:
        batch_op.create_index("ix_basket_rule_item_run_item", ["run_id", "item"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("basket_rule_item", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_rule_item_run_item")
    op.drop_table("basket_rule_item")
    with op.batch_alter_table("basket_rule", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_rule_run_consequent")
    op.drop_table("basket_rule")
    with op.batch_alter_table("basket_run", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_run_active")
    op.drop_table("basket_run")
