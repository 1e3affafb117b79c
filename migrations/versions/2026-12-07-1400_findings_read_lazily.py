"""findings read lazily: which stored lives a restart may leave until it needs them

Revision ID: 0018_findings_read_lazily
Revises: 0017_report_summaries
Create Date: 2026-12-07 14:00

``proj_findings.lazy`` tells the lives a lazily resumed walk reads only when it first
needs their asset (``ledger.projections.findings_codec.read_lazily``): an asset's own
findings, plain at their last change, and not an R03 still visible. A restart asked
PostgreSQL to tell them from every row's JSON with three ``LIKE``s: at a million
events, 330,000 rows and 2.5 s of each partition's resume (docs/decisions/0032). The
index ``ix_proj_findings_eager`` holds the others, a few percent of the rows.

Filled here with the test the restart made until now, on each row's JSON (compact, as
``head_json`` writes it: a key in quotes can only be one of the object's own), so that
the findings projection is not rebuilt. A row the flag leaves false is read at once,
as every row was before: false is the safe value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_findings_read_lazily"
down_revision = "0017_report_summaries"
branch_labels = None
depends_on = None


def lazily(rows: sa.TableClause) -> sa.ColumnElement[bool]:
    """``read_lazily`` of each row, from its columns and its ``life`` JSON."""

    def has(text: str) -> sa.ColumnElement[bool]:
        return rows.c.life.contains(text, autoescape=True)

    return sa.and_(
        rows.c.asset_id.is_not(None),
        ~rows.c.rule.startswith("C"),
        ~has('"count":0,'),
        has('"pending":null'),
        ~sa.and_(rows.c.rule == "R03", has('"last_cleared":false')),
    )


def fill(conn: sa.Connection) -> None:
    rows = sa.table(
        "proj_findings",
        sa.column("rule", sa.String()),
        sa.column("asset_id", sa.String()),
        sa.column("life", sa.Text()),
        sa.column("lazy", sa.Boolean()),
    )
    conn.execute(rows.update().where(lazily(rows)).values(lazy=True))


def upgrade() -> None:
    op.add_column(
        "proj_findings",
        sa.Column("lazy", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    fill(op.get_bind())
    op.create_index(
        "ix_proj_findings_eager",
        "proj_findings",
        ["finding_key"],
        postgresql_where=sa.text("NOT lazy"),
        sqlite_where=sa.text("lazy = 0"),
    )


def downgrade() -> None:
    op.drop_index("ix_proj_findings_eager", table_name="proj_findings")
    op.drop_column("proj_findings", "lazy")
