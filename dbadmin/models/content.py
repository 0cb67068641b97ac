"""The course: modules, chapters, per-user progress, and page metadata for search."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base, Timestamps


class Module(Timestamps, Base):
    __tablename__ = "modules"

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    order_index: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class Chapter(Timestamps, Base):
    __tablename__ = "chapters"
    __table_args__ = (
        # a module's table of contents; also the index for the module_id foreign key
        Index("ix_chapters_module_id_order_index", "module_id", "order_index"),
    )

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("modules.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    content_markdown: Mapped[str] = mapped_column(Text, server_default=text("''"))
    order_index: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class ChapterProgress(Timestamps, Base):
    __tablename__ = "chapter_progress"
    __table_args__ = (
        CheckConstraint("quiz_score BETWEEN 0 AND 100", name="quiz_score"),
        CheckConstraint("exercises_completed >= 0", name="exercises_completed"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # the primary key leads with user_id; chapter_id needs its own index for the FK
    chapter_id: Mapped[int] = mapped_column(
        ForeignKey("chapters.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    completed_at: Mapped[datetime | None]
    quiz_score: Mapped[int | None] = mapped_column(SmallInteger)
    exercises_completed: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class ContentMetadata(Timestamps, Base):
    __tablename__ = "content_metadata"
    __table_args__ = (Index("ix_content_metadata_chapter_section", "chapter", "section"),)

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    chapter: Mapped[str] = mapped_column(String(200))
    section: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    page_url: Mapped[str] = mapped_column(String(2048), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
