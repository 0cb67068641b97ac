"""The assistant's conversations and their messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base, CreatedAt, Timestamps


class Conversation(Timestamps, Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    # anonymous visitors chat too; deleting a user keeps the conversation for analytics
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # "metadata" is reserved on declarative classes; the column keeps the name
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", server_default=text("'{}'::jsonb"))
    last_activity: Mapped[datetime] = mapped_column(server_default=func.now())


# "recent conversations" scans newest first
Index("ix_conversations_last_activity", Conversation.last_activity.desc())


class Message(CreatedAt, Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # indexed: deleting a user must not scan every message
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(server_default=text("'[]'::jsonb"))
    confidence: Mapped[float | None] = mapped_column(Double)
    tokens_used: Mapped[int | None] = mapped_column(Integer)
    selected_text: Mapped[str | None] = mapped_column(Text)
    page_context: Mapped[str | None] = mapped_column(Text)
