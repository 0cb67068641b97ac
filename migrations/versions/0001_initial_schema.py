"""initial schema: users, tasks, chat, course content, analytics

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:08:13

Reviewed by hand (started from autogenerate): tables in dependency order, every constraint and
index named by the models' naming convention, timestamps are timestamptz with server defaults,
keys are bigint identities (UUIDs for users, whose ids leave the database). Creating tables and
their indexes inside one transaction takes no lock on existing data, so plain CREATE INDEX is right
here (CONCURRENTLY is for indexes on tables that already hold rows). Check constraint names are
wrapped in op.f() because the naming convention would otherwise prefix them a second time.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False)


def _updated_at() -> sa.Column:
    return sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False)


def _jsonb(name: str, default: str) -> sa.Column:
    return sa.Column(
        name,
        postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(f"'{default}'::jsonb"),
        nullable=False,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "language_preference",
            sa.String(length=8),
            server_default=sa.text("'EN'"),
            nullable=False,
        ),
        sa.Column(
            "theme_preference",
            sa.String(length=16),
            server_default=sa.text("'light'"),
            nullable=False,
        ),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),  # also the lookup index
    )

    op.create_table(
        "tasks",
        _id(),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("completed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "priority", sa.String(length=10), server_default=sa.text("'medium'"), nullable=False
        ),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        _updated_at(),
        sa.CheckConstraint("priority IN ('high', 'medium', 'low')", name=op.f("ck_tasks_priority")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_tasks_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    # (user_id, completed) also serves lookups by user_id alone and the foreign key
    op.create_index("ix_tasks_user_id_completed", "tasks", ["user_id", "completed"])
    op.create_index("ix_tasks_completed", "tasks", ["completed"])
    op.create_index("ix_tasks_due_date", "tasks", ["due_date"])

    op.create_table(
        "conversations",
        _id(),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        _jsonb("metadata", "{}"),
        sa.Column("last_activity", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        _created_at(),
        _updated_at(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_conversations_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("session_id", name="uq_conversations_session_id"),
    )
    op.create_index("ix_conversations_user_id", "conversations", ["user_id"])
    op.create_index(
        "ix_conversations_last_activity",
        "conversations",
        [sa.literal_column("last_activity DESC")],
    )

    op.create_table(
        "messages",
        _id(),
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _jsonb("citations", "[]"),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("tokens_used", sa.Integer(), nullable=True),
        sa.Column("selected_text", sa.Text(), nullable=True),
        sa.Column("page_context", sa.Text(), nullable=True),
        _created_at(),
        sa.CheckConstraint("role IN ('user', 'assistant')", name=op.f("ck_messages_role")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_messages_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
    )
    op.create_index(
        "ix_messages_conversation_id_created_at", "messages", ["conversation_id", "created_at"]
    )
    op.create_index("ix_messages_user_id", "messages", ["user_id"])

    op.create_table(
        "modules",
        _id(),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("order_index", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name="pk_modules"),
        sa.UniqueConstraint("slug", name="uq_modules_slug"),
    )

    op.create_table(
        "chapters",
        _id(),
        sa.Column("module_id", sa.BigInteger(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("content_markdown", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("order_index", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _created_at(),
        _updated_at(),
        sa.ForeignKeyConstraint(
            ["module_id"], ["modules.id"], name="fk_chapters_module_id_modules", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_chapters"),
        sa.UniqueConstraint("slug", name="uq_chapters_slug"),
    )
    # a module's table of contents; also the index behind the module_id foreign key
    op.create_index("ix_chapters_module_id_order_index", "chapters", ["module_id", "order_index"])

    op.create_table(
        "chapter_progress",
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("chapter_id", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quiz_score", sa.SmallInteger(), nullable=True),
        sa.Column("exercises_completed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _created_at(),
        _updated_at(),
        sa.CheckConstraint(
            "exercises_completed >= 0", name=op.f("ck_chapter_progress_exercises_completed")
        ),
        sa.CheckConstraint(
            "quiz_score BETWEEN 0 AND 100", name=op.f("ck_chapter_progress_quiz_score")
        ),
        sa.ForeignKeyConstraint(
            ["chapter_id"],
            ["chapters.id"],
            name="fk_chapter_progress_chapter_id_chapters",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_chapter_progress_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "chapter_id", name="pk_chapter_progress"),
    )
    op.create_index("ix_chapter_progress_chapter_id", "chapter_progress", ["chapter_id"])

    op.create_table(
        "content_metadata",
        _id(),
        sa.Column("chapter", sa.String(length=200), nullable=False),
        sa.Column("section", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("page_url", sa.String(length=2048), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "keywords",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        _created_at(),
        _updated_at(),
        sa.PrimaryKeyConstraint("id", name="pk_content_metadata"),
        sa.UniqueConstraint("page_url", name="uq_content_metadata_page_url"),
    )
    op.create_index(
        "ix_content_metadata_chapter_section", "content_metadata", ["chapter", "section"]
    )

    # append-only events: no foreign keys (events outlive users; cheap inserts)
    op.create_table(
        "analytics",
        _id(),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        _jsonb("metadata", "{}"),
        sa.Column("timestamp", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_analytics"),
    )
    op.create_index(
        "ix_analytics_event_type_timestamp",
        "analytics",
        ["event_type", sa.literal_column("timestamp DESC")],
    )


def downgrade() -> None:
    # dropping a table drops its indexes and the constraints it owns; children first
    for table in (
        "analytics",
        "content_metadata",
        "chapter_progress",
        "chapters",
        "modules",
        "messages",
        "conversations",
        "tasks",
        "users",
    ):
        op.drop_table(table)
