"""Per-user to-do items."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Identity, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from dbadmin.models.base import Base, Timestamps

PRIORITIES = ("high", "medium", "low")
_PRIORITY_CHECK = "priority IN (" + ", ".join(f"'{p}'" for p in PRIORITIES) + ")"


class Task(Timestamps, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_PRIORITY_CHECK, name="priority"),
        # "my open tasks": the most common query; also serves user_id-only lookups
        Index("ix_tasks_user_id_completed", "user_id", "completed"),
    )

    id: Mapped[int] = mapped_column(Identity(always=False), primary_key=True)
    # indexed by ix_tasks_user_id_completed (leading column); a second index would be redundant
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000))
    completed: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), index=True)
    priority: Mapped[str] = mapped_column(String(10), server_default=text("'medium'"))
    due_date: Mapped[datetime | None] = mapped_column(index=True)
