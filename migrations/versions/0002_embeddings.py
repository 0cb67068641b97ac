"""embeddings: the text chunks behind the vector store

Revision ID: 0002_embeddings
Revises: 0001
Create Date: 2026-12-06 07:30:00

Written by hand to match dbadmin/models/embeddings.py. A new, empty table: plain CREATE INDEX in
the same transaction takes no lock on existing data. (Another branch adds its own revision off
0001 in parallel; whoever merges second re-chains down_revision so there is one head.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_embeddings"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("chapter", sa.String(length=200), nullable=False),
        sa.Column("chunk_text", sa.Text(), nullable=False),
        sa.Column("embedding_model", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("chunk_text <> ''", name=op.f("ck_embeddings_chunk_text")),
        sa.PrimaryKeyConstraint("id", name="pk_embeddings"),
    )
    op.create_index("ix_embeddings_chapter", "embeddings", ["chapter"])


def downgrade() -> None:
    op.drop_table("embeddings")
