"""embeddings: the text chunks behind the vector store

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:30:00

Written by hand to match dbadmin/models/embeddings.py. A new, empty table: plain CREATE INDEX in
the same transaction takes no lock on existing data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
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
    # the application role of revision 0002 reads and writes it too (DML only, like the others)
    op.execute(
        _when_app_role_exists(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON public.embeddings TO {role}",
            "GRANT USAGE, SELECT ON SEQUENCE public.embeddings_id_seq TO {role}",
        )
    )


def downgrade() -> None:
    op.drop_table("embeddings")  # its grants go with it


def _when_app_role_exists(*statements: str) -> str:
    """A DO block running ``statements`` for the application role (revision 0002's setting),
    only when that role exists."""
    settings = context.config.attributes.get("dbadmin_settings")
    env = settings.env if settings is not None else os.environ
    role = env.get("DBADMIN_APP_ROLE") or "app_user"
    ident = '"' + role.replace('"', '""') + '"'
    literal = "'" + role.replace("'", "''") + "'"
    body = "\n".join(
        "    EXECUTE '" + s.format(role=ident).replace("'", "''") + "';" for s in statements
    )
    return (
        "DO $dbadmin$\nBEGIN\n"
        f"  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN\n{body}\n  END IF;\n"
        "END\n$dbadmin$"
    )
